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

    /// What became of one recipient.
    enum Result: Sendable {
        /// Linked into `maildir` as `path` (synced with the directory when fsync is on).
        case delivered(path: String, maildir: Maildir)
        /// Already delivered within the duplicate window; nothing linked.
        case duplicate
        /// Not delivered, with the reply.
        case failed(SMTPError)
    }

    /// A recipient's result and how long it took.
    struct Outcome: Sendable {
        var result: Result
        var duration: TimeInterval
    }

    /// Whether `size` more octets stay within the target's quota (always, without one).
    static func fits(_ size: Int, _ target: DeliveryTarget) throws -> Bool {
        guard let quota = target.quota else { return true }
        let used = target.inbox.exists ? try MaildirSize.usage(of: target.inbox, limit: quota).bytes : 0
        return used + size <= quota
    }

    /// Each target's outcome, by its index, after its checks and its link; no `new/` is synced
    /// yet (see ``SpooledMessage/link(into:fsync:)``: every link is made before any sync, so
    /// that on a journaled file system the first sync commits them all).
    func link(_ targets: [(Int, DeliveryTarget)]) -> [(Int, Outcome)] {
        // The duplicate check reads the log once for the message, then answers per recipient.
        var copies: DeliveredCopies?
        if configuration.duplicateWindow > 0, let messageID, !targets.isEmpty {
            copies = try? log.deliveredCopies(messageID: messageID, bodySHA256: bodyHash,
                                              since: Date(timeIntervalSinceNow: -configuration.duplicateWindow))
        }
        return targets.map { index, target in
            let started = Date()
            let result = link(target, copies: copies)
            return (index, Outcome(result: result, duration: Date().timeIntervalSince(started)))
        }
    }

    /// Syncs the `new/` of every copy in `linked` (once per Maildir), when fsync is on, all at
    /// once (``SpooledMessage/syncLinks(into:)``; a spooled file that was only written back
    /// before the links becomes durable with them); a copy whose `new/` cannot be synced is
    /// taken back, and its recipient's 4xx is returned with its index. `targets` are
    /// those `linked` was made from, in the same order.
    func sync(_ linked: [(Int, Outcome)], _ targets: [(Int, DeliveryTarget)]) -> [(Int, SMTPError)] {
        guard configuration.fsync else { return [] }
        var maildirs: [Maildir] = []
        var position: [String: Int] = [:]
        for (_, outcome) in linked {
            guard case .delivered(_, let maildir) = outcome.result, position[maildir.path] == nil else { continue }
            position[maildir.path] = maildirs.count
            maildirs.append(maildir)
        }
        guard !maildirs.isEmpty else { return [] }
        let synced = spooled.syncLinks(into: maildirs)
        var failures: [(Int, SMTPError)] = []
        for ((index, outcome), (_, target)) in zip(linked, targets) {
            guard case .delivered(let path, let maildir) = outcome.result,
                  let failure = synced[position[maildir.path]!] else { continue }
            unlink(path)   // not durable: the client will be told to retry
            failures.append((index, LocalDeliverySession.failure(failure, target.address, configuration)))
        }
        return failures
    }

    /// After the syncs: counts the copies kept against their quotas and removes the spool.
    func finish(_ linked: [(Int, Outcome)], _ targets: [(Int, DeliveryTarget)], failed: [(Int, SMTPError)]) {
        let failedIndices = Set(failed.map(\.0))
        for ((index, outcome), (_, target)) in zip(linked, targets) {
            guard case .delivered = outcome.result, target.quota != nil, !failedIndices.contains(index) else { continue }
            MaildirSize.record(bytes: spooled.size, in: target.inbox)
        }
        spooled.remove()
    }

    /// The checks and the link of one recipient (`copies`: the message's earlier deliveries,
    /// when the duplicate check is on and could read them); `new/` is not synced yet.
    private func link(_ target: DeliveryTarget, copies: DeliveredCopies?) -> Result {
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
            return .delivered(path: path, maildir: maildir)
        } catch {
            return .failed(LocalDeliverySession.failure(error, target.address, configuration))
        }
    }
}
