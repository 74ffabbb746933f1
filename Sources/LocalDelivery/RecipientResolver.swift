import Maildir
import SMTPCore

/// Where one recipient's mail goes.
struct DeliveryTarget: Sendable, Hashable {
    /// The address as given at RCPT.
    var address: Address
    /// The canonical address (lower-cased, without detail): the log's `recipient`.
    var canonical: String
    var originalRecipient: String?
    /// The user's Maildir (INBOX).
    var inbox: Maildir
    /// The folder the detail asked for, if any.
    var folder: String?
    /// Whether the folder may be created.
    var createFolder: Bool
    /// The user's quota in octets, from the users file or table.
    var quota: Int?
    /// Whether RCPT asked for a notice of delivery (`NOTIFY=SUCCESS`, RFC 3461 §4.1).
    var notifySuccess = false
    /// The ORCPT parameter as the client gave it, for that notice.
    var originalRecipientParameter: OriginalRecipient?

    /// The Maildir delivered into: the folder when it exists or may be created, else INBOX.
    var maildir: Maildir {
        guard let folder else { return inbox }
        let candidate = inbox.folder(folder)
        return createFolder || candidate.exists ? candidate : inbox
    }
}

/// Turns a RCPT address into a delivery target, or the reply refusing it.
struct RecipientResolver: Sendable {
    let configuration: LocalDeliveryConfiguration
    let users: (any UserLookup)?

    /// The target of `address`, or the reply refusing (or deferring) it: a bad mailbox name or
    /// an unknown user is refused, a users lookup that cannot answer now defers it.
    func resolve(_ address: Address, originalRecipient: String? = nil) async throws(SMTPError) -> DeliveryTarget {
        guard !address.isBarePostmaster, !address.isAddressLiteral else { throw DeliveryReplies.unknownUser(address) }
        let (local, given) = split(address.unquotedLocalPart)
        let domain: String, name: String, detail: String?
        do {
            domain = try MailboxName.component(address.domain)
            name = try MailboxName.component(local)
            if let given, !given.isEmpty { detail = try MailboxName.component(given) } else { detail = nil }
        } catch {
            throw DeliveryReplies.badMailbox(address)
        }
        let canonical = name + "@" + domain
        if let domains = configuration.domains, !domains.contains(domain) { throw DeliveryReplies.unknownUser(address) }
        var user: LocalUser?
        if let users {
            do {
                user = try await users.user(address: canonical, localPart: name, domain: domain)
            } catch {
                throw DeliveryReplies.usersUnavailable(address)
            }
            if user == nil { throw DeliveryReplies.unknownUser(address) }
        }
        let relative: String
        if let mailbox = user?.mailbox {
            guard let inside = Self.underMailRoot(mailbox, root: configuration.mailRoot) else {
                throw DeliveryReplies.usersUnavailable(address)
            }
            relative = inside
        } else {
            relative = MailboxTemplate.expand(configuration.mailboxTemplate, user: canonical, domain: domain, name: name)
        }
        let quota = user?.quota
        let inbox = Maildir(path: configuration.mailRoot + "/" + relative)
        let folder = configuration.detailFolders == .off ? nil : detail
        return DeliveryTarget(address: address, canonical: canonical, originalRecipient: originalRecipient, inbox: inbox,
                              folder: folder, createFolder: configuration.detailFolders == .create, quota: quota)
    }

    /// A mailbox path from the users table made relative to the mail root: a relative path
    /// whose every component names a directory (no `.`, `..` or empty one), or an absolute path
    /// under the root. Anything else (a table pointing out of the mail root) is nil: the
    /// recipient is deferred until the table is mended, and no mail leaves the root.
    static func underMailRoot(_ mailbox: String, root: String) -> String? {
        var relative = Substring(mailbox)
        if mailbox.hasPrefix("/") {
            let prefix = root.hasSuffix("/") ? root : root + "/"
            guard mailbox.hasPrefix(prefix) else { return nil }
            relative = mailbox.dropFirst(prefix.count)
        }
        while relative.hasSuffix("/") { relative = relative.dropLast() }
        let components = relative.split(separator: "/", omittingEmptySubsequences: false)
        guard !components.isEmpty, components.allSatisfy({ (try? MailboxName.component(String($0))) != nil }) else { return nil }
        return String(relative)
    }

    /// The name a recipient refused before it resolved (an unknown user, a bad mailbox) is
    /// recorded under: like ``DeliveryTarget/canonical``, the address lower-cased without its
    /// `+detail`, so that `deliveries list --recipient` finds its refusals beside its deliveries.
    func recordedName(_ address: Address) -> String {
        let local = split(address.unquotedLocalPart).local
        return (address.domain.isEmpty ? local : local + "@" + address.domain).lowercased()
    }

    /// A local part split at the first recipient delimiter: the user and the `+detail` (nil
    /// without a delimiter in it, or without one configured).
    private func split(_ localPart: String) -> (local: String, detail: String?) {
        guard let delimiter = configuration.recipientDelimiter, !delimiter.isEmpty,
              let range = localPart.firstRange(of: delimiter) else { return (localPart, nil) }
        return (String(localPart[..<range.lowerBound]), String(localPart[range.upperBound...]))
    }
}
