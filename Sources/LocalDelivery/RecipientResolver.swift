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
    /// The user's quota in octets, from the users file.
    var quota: Int?

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
    let users: UserDirectory?

    func resolve(_ address: Address, originalRecipient: String? = nil) throws(SMTPError) -> DeliveryTarget {
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
        if let users, users.user(canonical) == nil { throw DeliveryReplies.unknownUser(address) }
        let quota = users?.user(canonical)?.quota
        let relative = Self.expand(configuration.mailboxTemplate, user: canonical, domain: domain, name: name)
        let inbox = Maildir(path: configuration.mailRoot + "/" + relative)
        let folder = configuration.detailFolders == .off ? nil : detail
        return DeliveryTarget(address: address, canonical: canonical, originalRecipient: originalRecipient, inbox: inbox,
                              folder: folder, createFolder: configuration.detailFolders == .create, quota: quota)
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

    /// The mailbox template with `%u` (user@domain), `%d` (domain) and `%n` (user) put in, in
    /// one pass: what is put in is never expanded again. Any other `%` stays as it is.
    static func expand(_ template: String, user: String, domain: String, name: String) -> String {
        var result = ""
        var utf8 = template.utf8[...]
        while let percent = utf8.firstIndex(of: UInt8(ascii: "%")) {
            result += Substring(utf8[..<percent])
            let next = utf8.index(after: percent)
            let value: String?
            switch next < utf8.endIndex ? utf8[next] : 0 {
            case UInt8(ascii: "u"): value = user
            case UInt8(ascii: "d"): value = domain
            case UInt8(ascii: "n"): value = name
            default: value = nil
            }
            if let value {
                result += value
                utf8 = utf8[utf8.index(after: next)...]
            } else {
                result += "%"
                utf8 = utf8[next...]
            }
        }
        result += Substring(utf8)
        return result
    }
}
