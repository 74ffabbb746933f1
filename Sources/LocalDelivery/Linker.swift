import DeliveryLog
import Foundation
import Maildir
import SMTPCore

/// Links a synced message into recipients' Maildirs, after their duplicate and quota checks,
/// syncs their `new/`, then removes it from `tmp/`.
struct Linker: Sendable {
    let log: DeliveryLog
    let configuration: LocalDeliveryConfiguration
    let spooled: SpooledMessage
    let messageID: String?
    let bodyHash: String

    /// Whether `size` more octets stay within the target's quota (always, without one).
    static func fits(_ size: Int, _ target: DeliveryTarget) throws -> Bool {
        guard let quota = target.quota else { return true }
        let used = target.inbox.exists ? try MaildirSize.usage(of: target.inbox, limit: quota).bytes : 0
        return used + size <= quota
    }

    /// Checks and links every pending recipient: a duplicate, a quota it would exceed, a
    /// failure or its copy in `new/`, with how long that took. No `new/` is synced yet (see
    /// ``SpooledMessage/link(into:fsync:)``: every link is made before any sync, so that on a
    /// journaled file system the first sync commits them all).
    /// `lookup`: the duplicate check, started (``startDuplicateCheck(_:)``) before the spool
    /// was synced; a check that fails suppresses nothing.
    func link(_ recipients: inout [Recipient], lookup: CopiesLookup?) {
        // The duplicate check read the log once for the message; it answers per recipient.
        let copies = try? lookup?.wait()
        for index in recipients.indices where recipients[index].isPending {
            let started = Date()
            recipients[index].outcome = link(recipients[index].target, copies: copies)
            recipients[index].duration = Date().timeIntervalSince(started)
        }
    }

    /// Starts the duplicate check of the message for `recipients`, when it is on and the
    /// message has a Message-ID: a query to the log's server leaves now and overlaps the
    /// spool's sync; SQLite's read is made when it is waited for.
    static func startDuplicateCheck(log: DeliveryLog, configuration: LocalDeliveryConfiguration, messageID: String?,
                                    bodyHash: String, for recipients: [Recipient]) -> CopiesLookup? {
        guard configuration.duplicateWindow > 0, let messageID, recipients.contains(where: \.isPending) else { return nil }
        return log.startDeliveredCopies(messageID: messageID, bodySHA256: bodyHash,
                                        since: Date(timeIntervalSinceNow: -configuration.duplicateWindow))
    }

    /// Syncs the `new/` of every linked copy (once per Maildir), when fsync is on, all at once
    /// (``SpooledMessage/syncLinks(into:)``; a spooled file that was only written back before
    /// the links becomes durable with them). A copy whose `new/` cannot be synced is taken back
    /// and its recipient becomes `unsynced`. Returns whether any did.
    func sync(_ recipients: inout [Recipient]) -> Bool {
        guard configuration.fsync else { return false }
        var maildirs: [Maildir] = []
        var position: [String: Int] = [:]
        for copy in recipients.compactMap(\.linkedCopy) where position[copy.maildir.path] == nil {
            position[copy.maildir.path] = maildirs.count
            maildirs.append(copy.maildir)
        }
        guard !maildirs.isEmpty else { return false }
        let synced = spooled.syncLinks(into: maildirs)
        var anyFailed = false
        for index in recipients.indices {
            guard let copy = recipients[index].linkedCopy, let at = position[copy.maildir.path],
                  let failure = synced[at] else { continue }
            unlink(copy.path)   // not durable: the client will be told to retry
            let reply = DeliveryReplies.failure(failure, for: recipients[index].target.address,
                                                quotaTempfail: configuration.quotaTempfail)
            recipients[index].outcome = .unsynced(copy, reply)
            anyFailed = true
        }
        return anyFailed
    }

    /// After the syncs: counts the copies kept against their quotas and removes the spool.
    func finish(_ recipients: [Recipient]) {
        for recipient in recipients where recipient.linkedCopy != nil && recipient.target.quota != nil {
            MaildirSize.record(bytes: spooled.size, in: recipient.target.inbox)
        }
        spooled.remove()
    }

    /// The checks and the link of one recipient (`copies`: the message's earlier deliveries,
    /// when the duplicate check is on and could read them); `new/` is not synced yet.
    private func link(_ target: DeliveryTarget, copies: DeliveredCopies?) -> Recipient.Outcome {
        if let copies, copies.hasCopy(for: target.canonical, isPresent: { mailbox, file in Maildir(path: mailbox).holds(file) }) {
            return .duplicate
        }
        do {
            guard try Self.fits(spooled.size, target) else {
                return .failed(DeliveryReplies.overQuota(target.address, quotaTempfail: configuration.quotaTempfail))
            }
            let maildir = target.maildir
            // Made (or made whole again) only when the link finds a directory missing.
            let path: String
            do {
                path = try spooled.link(into: maildir, fsync: configuration.fsync)
            } catch where error.errno == ENOENT {
                try maildir.create()
                path = try spooled.link(into: maildir, fsync: configuration.fsync)
            }
            return .linked(Recipient.Copy(path: path, maildir: maildir))
        } catch {
            return .failed(DeliveryReplies.failure(error, for: target.address, quotaTempfail: configuration.quotaTempfail))
        }
    }
}
