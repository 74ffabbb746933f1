import DeliveryLog
import Foundation
import Maildir
import SMTPCore
import Sieve

/// One distinct recipient of a transaction, from its RCPT commands to its reply: the commands
/// it answers, where its copy goes, and what has become of it so far. The same user and
/// Maildir given twice is one `Recipient` answering two RCPT commands: one copy, the same reply
/// twice (RFC 2033 §4.2 wants one reply per RCPT, not one per copy).
struct Recipient: Sendable {
    /// Where its mail goes, as resolved at its first RCPT.
    let target: DeliveryTarget
    /// The positions, among the transaction's accepted RCPT commands, of those it answers.
    var rcptPositions: [Int]
    /// What has become of it so far.
    var outcome: Outcome = .pending
    /// How long its checks and its link took (the log's `duration`).
    var duration: TimeInterval = 0
    /// What its Sieve scripts did (the log's `sieve`), when it has any.
    var sieve: String?
    /// What its Sieve scripts send through the relay (`redirect`, `vacation`) before its copies
    /// are linked.
    var sends: [SieveAction] = []

    /// Where its copies go: its Maildir (the detail's folder or INBOX) unless a Sieve script
    /// decides otherwise — several folders, flags, or none at all (discard).
    var destinations: [Destination]

    init(_ target: DeliveryTarget, rcptPosition: Int) {
        self.target = target
        self.rcptPositions = [rcptPosition]
        self.destinations = [Destination(maildir: target.maildir)]
    }

    /// One place a copy goes. Whether a missing folder may be made is decided when it is chosen
    /// (``DeliveryTarget/maildir``, ``SieveDecision``); the link then makes it if need be.
    struct Destination: Sendable, Hashable {
        /// The Maildir (INBOX or a folder).
        var maildir: Maildir
        /// Its flags: a copy with flags goes into `cur/` (``SpooledMessage/link(into:flags:fsync:)``).
        var flags: MaildirFlags = .none
    }

    /// A copy of the message linked into a Maildir's `new/` (or `cur/`, with flags).
    struct Copy: Sendable {
        /// The copy's path.
        var path: String
        /// The Maildir (INBOX or folder) it is in.
        var maildir: Maildir
        /// The directory it is in, synced before the reply.
        var directory: String

        /// The file's name: the part after the last "/", found on the octets (splitting the
        /// path into Characters cost more than the rest of a recipient's bookkeeping).
        var file: String {
            path.utf8.lastIndex(of: UInt8(ascii: "/")).map { String(path[path.index(after: $0)...]) } ?? path
        }
    }

    /// The stages of a recipient's delivery, each final but `pending` and `linked`.
    enum Outcome: Sendable {
        /// Nothing decided yet.
        case pending
        /// Linked into `new/` (or `cur/`); durable once those directories are synced and the row
        /// committed.
        case linked([Copy])
        /// Already delivered within the duplicate window: nothing linked, a 250.
        case duplicate
        /// Discarded by its Sieve scripts (RFC 5228 §4.4): nothing linked, a 250.
        case discarded
        /// Sent on by its Sieve scripts (`redirect`, RFC 5228 §4.2) and kept nowhere: a 250.
        case redirected
        /// Linked, but a directory of its could not be synced: its copies were taken back, the
        /// reply is the failure, and the row already handed to the log as delivered is amended.
        case unsynced([Copy], SMTPError)
        /// Not delivered, with the reply that says why.
        case failed(SMTPError)
    }

    /// Whether nothing is decided for it yet.
    var isPending: Bool {
        if case .pending = outcome { return true }
        return false
    }

    /// Whether its copy was taken back because its `new/` could not be synced.
    var isUnsynced: Bool {
        if case .unsynced = outcome { return true }
        return false
    }

    /// The copies it has in Maildirs now.
    var linkedCopies: [Copy] {
        if case .linked(let copies) = outcome { return copies }
        return []
    }

    /// Marks it not delivered, unless its outcome is known already.
    mutating func failIfPending(_ reply: SMTPError) {
        if isPending { outcome = .failed(reply) }
    }

    /// Its reply to each of its RCPT commands: `nil` for 250. A recipient still pending was
    /// not delivered, so it never gets a 250.
    var reply: SMTPError? {
        switch outcome {
        case .linked, .duplicate, .discarded, .redirected: nil
        case .failed(let reply), .unsynced(_, let reply): reply
        case .pending: DeliveryReplies.localError(target.address)
        }
    }

    /// Its row in the delivery log, as its outcome stands.
    var record: RecipientRecord {
        var record = RecipientRecord(recipient: target.canonical, originalRecipient: target.originalRecipient,
                                     mailbox: target.inbox.path, status: .deferred, code: 451, enhancedCode: "4.3.0",
                                     text: "", duration: duration, sieve: sieve)
        switch outcome {
        case .pending, .failed:
            break   // the reply below says what happened
        case .linked(let copies), .unsynced(let copies, _):
            // The row names the first copy; every copy has the same file name.
            guard let copy = copies.first else { break }
            DeliveryReplies.recordDelivered(target.address, file: copy.file, in: &record)
            record.file = copy.file
            record.folder = copy.maildir.folderName
            record.mailbox = copy.maildir.path
            record.copies = copies.dropFirst().map(\.maildir.path)
        case .duplicate:
            DeliveryReplies.recordDuplicate(target.address, in: &record)
        case .discarded:
            DeliveryReplies.recordNotStored(target.address, "discarded", in: &record)
        case .redirected:
            DeliveryReplies.recordNotStored(target.address, "redirected", in: &record)
        }
        if let reply { DeliveryReplies.record(reply, in: &record) }
        return record
    }
}
