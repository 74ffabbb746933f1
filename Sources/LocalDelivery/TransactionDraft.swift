import DeliveryLog
import Foundation
import Maildir
import SMTPCore
import Sieve

/// A transaction while it is delivered: its distinct recipients, whose outcomes the steps fill
/// in, the recipients refused at RCPT, and the log's record of it all.
struct TransactionDraft: Sendable {
    /// The transaction; its `recipients` are filled in by ``finished``.
    var transaction: TransactionRecord
    /// The distinct accepted recipients, in the order of their first RCPT.
    var recipients: [Recipient]
    /// How many RCPT commands were accepted (each gets one reply).
    let acceptedCount: Int
    /// The transaction's recipients refused at RCPT, recorded after the others.
    let refused: [RecipientRecord]
    /// The message's header section as received (bounded), once the body has been read: what a
    /// delivery notice returns.
    var headerSection: [UInt8] = []

    /// `accepted` in RCPT order; a target equal to an earlier one (same user, same Maildir)
    /// joins that recipient instead of making a second copy.
    init(_ transaction: TransactionRecord, accepted: [DeliveryTarget], refused: [RecipientRecord] = []) {
        self.transaction = transaction
        self.refused = refused
        acceptedCount = accepted.count
        var recipients: [Recipient] = []
        for (position, target) in accepted.enumerated() {
            if let same = recipients.firstIndex(where: { $0.target.canonical == target.canonical
                                                          && $0.target.maildir == target.maildir }) {
                recipients[same].rcptPositions.append(position)
            } else {
                recipients.append(Recipient(target, rcptPosition: position))
            }
        }
        self.recipients = recipients
    }

    /// Gives every recipient whose outcome is not known yet the reply `failure` makes for it.
    mutating func failPending(_ failure: (Address) -> SMTPError) {
        for index in recipients.indices where recipients[index].isPending {
            recipients[index].outcome = .failed(failure(recipients[index].target.address))
        }
    }

    /// Refuses every pending recipient named in one of the message's `Delivered-To:` fields
    /// (compared without case, with or without angle brackets): the address as given or as
    /// delivered (without its `+detail`).
    mutating func refuseLoops(deliveredTo values: [String]) {
        let seen = Set(values.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "<>")).lowercased() })
        for index in recipients.indices where recipients[index].isPending {
            let target = recipients[index].target
            if seen.contains(target.canonical) || seen.contains(target.address.description.lowercased()) {
                recipients[index].failIfPending(DeliveryReplies.mailLoop(target.address))
            }
        }
    }

    /// The spool could not be opened in the Maildirs of the first `failures.count` recipients
    /// (``SpoolProgress/openFailures``): each of them gets its failure's reply.
    mutating func spoolRefused(_ failures: [any Error], quotaTempfail: Bool) {
        for (index, error) in failures.enumerated() {
            let address = recipients[index].target.address
            recipients[index].failIfPending(DeliveryReplies.failure(error, for: address, quotaTempfail: quotaTempfail))
        }
    }

    /// Runs each pending recipient's Sieve scripts on `message` and applies what they decide:
    /// its destinations, a rejection (550 5.7.1), or a discard; recipients without scripts
    /// keep their one destination.
    mutating func applySieve(_ input: SieveInput) {
        // Read once, for the first recipient with a script; each run differs only in its
        // envelope recipient.
        var message: SieveMessage?
        for index in recipients.indices where recipients[index].isPending {
            let target = recipients[index].target
            // The escapes of the mailbox template: the canonical address and its parts.
            let at = target.canonical.lastIndex(of: "@")
            let name = at.map { String(target.canonical[..<$0]) } ?? target.canonical
            let domain = at.map { String(target.canonical[target.canonical.index(after: $0)...]) } ?? ""
            let found = input.scripts.scripts(user: target.canonical, domain: domain, name: name)
            guard !found.isEmpty else { continue }
            var parsed = message ?? SieveMessage(input.message, envelopeFrom: transaction.sender, envelopeTo: "")
            parsed.size = input.size
            parsed.envelopeTo = target.address.description
            message = parsed
            let inbox = target.inbox
            let environment = SieveEnvironment(now: input.now, localZone: input.localZone, mailboxExists: { folder in
                folder.uppercased() == "INBOX" || ((try? MailboxName.component(folder)) != nil && inbox.folder(folder).exists)
            })
            let decision = SieveDecision.decide(found, message: parsed, target: target, environment: environment,
                                                createFolders: input.createFolders, canSend: input.canSend)
            recipients[index].sieve = decision.summary.joined(separator: "; ")
            recipients[index].sends = decision.sends
            if let refusal = decision.refusal {
                recipients[index].outcome = .failed(refusal)
            } else if decision.isDiscard && decision.sends.isEmpty {
                recipients[index].outcome = .discarded
            } else {
                recipients[index].destinations = decision.destinations
            }
        }
    }

    /// What a delivery's Sieve step needs: the scripts, the message as received (its first
    /// ``SieveInput/largestCopy`` octets, the trace fields first), its whole size.
    struct SieveInput: Sendable {
        /// How much of a message the scripts see: a body test looks at no more than this.
        static let largestCopy = 1 << 20
        let scripts: SieveScripts
        let message: [UInt8]
        let size: Int
        let createFolders: Bool
        /// Whether a relay is configured for redirect and vacation.
        let canSend: Bool
        /// When the message arrived (currentdate), and the local zone in minutes east of UTC.
        let now: Double
        let localZone: Int
    }

    /// Whether a pending recipient has messages to send for its Sieve scripts.
    var hasSends: Bool { recipients.contains { $0.isPending && !$0.sends.isEmpty } }

    /// The paths of the copies linked so far.
    var copies: [String] { recipients.flatMap { $0.linkedCopies.map(\.path) } }

    /// One reply per accepted RCPT command, in their order: `nil` for 250.
    var replies: [SMTPError?] {
        var replies = [SMTPError?](repeating: nil, count: acceptedCount)
        for recipient in recipients {
            let reply = recipient.reply
            for position in recipient.rcptPositions { replies[position] = reply }
        }
        return replies
    }

    /// The transaction as logged: one row per distinct recipient, as its outcome stands, then
    /// those refused at RCPT.
    var finished: TransactionRecord {
        var transaction = transaction
        transaction.recipients = recipients.map(\.record) + refused
        return transaction
    }
}
