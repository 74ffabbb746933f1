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

    /// Whether `size` more octets stay within the target's quota (always, without one).
    static func fits(_ size: Int, _ target: DeliveryTarget) throws -> Bool {
        guard let quota = target.quota else { return true }
        let used = target.inbox.exists ? try MaildirSize.usage(of: target.inbox, limit: quota).bytes : 0
        return used + size <= quota
    }

    /// Checks and links every pending recipient (the duplicates were found already): a quota
    /// it would exceed, a failure or its copies, with how long that took. No `new/` is synced
    /// yet (see ``SpooledMessage/link(into:flags:fsync:)``: every link is made before any sync,
    /// so that on a journaled file system the first sync commits them all).
    func link(_ recipients: inout [Recipient]) {
        for index in recipients.indices where recipients[index].isPending {
            let started = Date()
            // Nothing to store: the scripts discarded it, and only sent something (a redirect,
            // or a vacation reply).
            guard !recipients[index].destinations.isEmpty else {
                let redirected = recipients[index].sends.contains { if case .redirect = $0 { true } else { false } }
                recipients[index].outcome = redirected ? .redirected : .discarded
                continue
            }
            recipients[index].outcome = link(recipients[index].target, to: recipients[index].destinations)
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

    /// Syncs the directories of every linked copy (each once: a `new/`, or a `cur/` for copies
    /// with flags), when fsync is on, all at once (``SpooledMessage/syncLinks(intoDirectories:)``;
    /// a spooled file that was only written back before the links becomes durable with them).
    /// A recipient with a copy in a directory that cannot be synced has all its copies taken
    /// back and becomes `unsynced`. Returns whether any did.
    func sync(_ recipients: inout [Recipient]) -> Bool {
        guard configuration.fsync else { return false }
        var directories: [String] = []
        var position: [String: Int] = [:]
        for recipient in recipients {
            for copy in recipient.linkedCopies where position[copy.directory] == nil {
                position[copy.directory] = directories.count
                directories.append(copy.directory)
            }
        }
        guard !directories.isEmpty else { return false }
        let synced = spooled.syncLinks(intoDirectories: directories)
        var anyFailed = false
        for index in recipients.indices {
            let copies = recipients[index].linkedCopies
            guard let failure = copies.lazy.compactMap({ position[$0.directory].flatMap { synced[$0] } }).first else { continue }
            for copy in copies { unlink(copy.path) }   // not durable: the client will be told to retry
            let reply = DeliveryReplies.failure(failure, for: recipients[index].target.address,
                                                quotaTempfail: configuration.quotaTempfail)
            recipients[index].outcome = .unsynced(copies, reply)
            anyFailed = true
        }
        return anyFailed
    }

    /// After the syncs: counts the copies kept against their quotas and removes the spool.
    func finish(_ recipients: [Recipient]) {
        for recipient in recipients where recipient.target.quota != nil {
            for _ in recipient.linkedCopies { MaildirSize.record(bytes: spooled.size, in: recipient.target.inbox) }
        }
        spooled.remove()
    }

    /// The quota check and the links of one recipient into each of its destinations; no
    /// directory is synced yet. One link that fails takes back those made before it.
    private func link(_ target: DeliveryTarget, to destinations: [Recipient.Destination]) -> Recipient.Outcome {
        do {
            guard try Self.fits(spooled.size * destinations.count, target) else {
                return .failed(DeliveryReplies.overQuota(target.address, quotaTempfail: configuration.quotaTempfail))
            }
            var linked: [Recipient.Copy] = []
            do {
                for destination in destinations {
                    let maildir = destination.maildir
                    // Two destinations that come to one Maildir are one copy (the first's flags).
                    if linked.contains(where: { $0.maildir.path == maildir.path }) { continue }
                    // Made (or made whole again) only when the link finds a directory missing.
                    let path: String
                    do {
                        path = try spooled.link(into: maildir, flags: destination.flags, fsync: configuration.fsync)
                    } catch where error.errno == ENOENT {
                        try maildir.create()
                        path = try spooled.link(into: maildir, flags: destination.flags, fsync: configuration.fsync)
                    }
                    linked.append(Recipient.Copy(path: path, maildir: maildir,
                                                 directory: destination.flags.isEmpty ? maildir.new : maildir.cur))
                }
            } catch {
                for copy in linked { unlink(copy.path) }
                throw error
            }
            return .linked(linked)
        } catch {
            return .failed(DeliveryReplies.failure(error, for: target.address, quotaTempfail: configuration.quotaTempfail))
        }
    }
}
