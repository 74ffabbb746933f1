import DeliveryLog
import Foundation
import Logging
import Maildir
import NIOCore
import SMTPCore

/// The last hand-off of a delivery: the last batch of the body (with the spool's opening, for a
/// message that fits in one batch: most), the spool's sync, then every link, the `new/` syncs
/// while the log commits, and the spool's removal. A small message costs one hand-off in all.
struct FinalStep: Sendable {
    let spool: SpoolWriter
    /// The body's last batch.
    let chunks: [ByteBuffer]
    /// Whether the spool is opened here (no earlier batch opened it).
    let open: Bool
    let log: DeliveryLog
    let logger: Logger
    let configuration: LocalDeliveryConfiguration
    let messageID: String?
    let bodyHash: String
    /// The other deliveries on their way to their links.
    let gathering: LinkGathering
    /// This delivery's place among them, taken when its body began.
    let arrival: LinkGathering.Arrival
    let metrics: DeliveryMetrics
    /// The recipients' Sieve scripts and the message they read, when Sieve is configured.
    let sieve: TransactionDraft.SieveInput?

    /// What the step came to.
    enum Outcome: Sendable {
        /// The spool could not be written or synced; nothing was linked or logged.
        case spoolFailed(any Error)
        /// No recipient's Maildir could take the spool; the draft says why, to be logged.
        case notSpooled(TransactionDraft)
        /// Linked and logged (or taken back): every recipient's outcome is final.
        case finished(TransactionDraft)
        /// Spooled and synced, duplicates found, not linked yet: what ``prepare(_:)`` gives;
        /// ``run(_:)`` gives it only when recipients' Sieve scripts have messages to send first
        /// (``SieveSubmission``), and ``link(_:gathers:)`` finishes it afterwards.
        case sending(Spooled)
    }

    /// A delivery whose message is spooled and synced, its duplicates known, not yet linked.
    struct Spooled: Sendable {
        var draft: TransactionDraft
        let message: SpooledMessage
    }

    func run(_ draft: TransactionDraft) -> Outcome {
        defer { arrival.arrive() }
        let spooled: Spooled
        switch prepare(draft) {
        case .sending(let ready) where !ready.draft.hasSends:
            spooled = ready
        case let outcome:
            return outcome
        }
        return link(spooled, gathers: true)
    }

    /// Runs the recipients' Sieve scripts, writes and syncs the spool, and marks the
    /// recipients that already have the message (the duplicate check, started before the
    /// spool's sync so that a query to the log's server overlaps it).
    func prepare(_ draft: TransactionDraft) -> Outcome {
        var draft = draft
        // Here, on the thread pool: a script is found with stat(2) and read when it changed.
        if let sieve { draft.applySieve(sieve) }
        let lookup = Linker.startDuplicateCheck(log: log, configuration: configuration, messageID: messageID,
                                                bodyHash: bodyHash, for: draft.recipients)
        let progress: SpoolProgress
        do {
            progress = try metrics.timed(metrics.spoolWrite) { try spool.write(chunks, open: open, final: true) }
        } catch {
            return .spoolFailed(error)
        }
        draft.spoolRefused(progress.openFailures, quotaTempfail: configuration.quotaTempfail)
        guard let spooled = progress.spooled else { return .notSpooled(draft) }
        draft.transaction.size = spooled.size
        draft.transaction.messageID = messageID
        draft.transaction.bodySHA256 = bodyHash
        // The duplicate check read the log once for the message; it answers per recipient.
        if let copies = try? lookup?.wait() {
            for index in draft.recipients.indices where draft.recipients[index].isPending {
                let recipient = draft.recipients[index].target.canonical
                if copies.hasCopy(for: recipient, isPresent: { mailbox, file in Maildir(path: mailbox).holds(file) }) {
                    draft.recipients[index].outcome = .duplicate
                }
            }
        }
        return .sending(Spooled(draft: draft, message: spooled))
    }

    /// Links the spooled message into every pending recipient's destinations, syncs them while
    /// the log commits, and removes the spool. `gathers`: whether this delivery is still among
    /// those on their way to their links (``LinkGathering``) and may wait for the others.
    func link(_ spooled: Spooled, gathers mayGather: Bool) -> Outcome {
        var draft = spooled.draft
        let linker = Linker(log: log, configuration: configuration, spooled: spooled.message)
        linker.link(&draft.recipients)
        // The row goes to the log before this delivery counts as linked, so that when the
        // last of a group links, every row of the group is with the log's writer. While
        // others are on their way it is staged: inserted while this delivery waits for them,
        // committed once it asks, after the wait. The group's link gathering announces the
        // requests of those it lets go, so their rows share one commit (one WAL sync) as
        // their links share one journal commit; a commit asked for before the wait was often
        // made while the group was still gathering, and the rest then needed one of their own.
        // Alone, the row is submitted with its request at once (staging would cost the
        // writer one more wake-up for nothing).
        let gathers = mayGather && configuration.fsync && !draft.copies.isEmpty
        let staged = gathers && !gathering.isAlone
        let ticket = staged ? log.stage(draft.finished) : log.submit(draft.finished)
        arrival.arrive()
        // The deliveries about to link join this one's journal commit (when it has one).
        let announced = gathers && gathering.waitForOthers()
        if staged {
            ticket.requestCommit(announced: announced)
        } else if announced {
            log.withdraw()   // its request was made with the submission
        }
        // The log commits while new/ is synced; a 250 waits for both.
        let anyUnsynced = metrics.timed(metrics.maildirSync) { linker.sync(&draft.recipients) }
        let committed = Result { try ticket.wait() }
        switch committed {
        case .failure(let error):
            // Not recorded, so not acknowledged: take the copies back, the client will retry.
            for path in draft.copies { unlink(path) }
            logger.error("delivery log failed: \(error)")
            for index in draft.recipients.indices {
                draft.recipients[index].outcome = .failed(DeliveryReplies.logUnavailable(draft.recipients[index].target.address))
            }
        case .success(let id) where anyUnsynced:
            // Rows went in as delivered while these copies failed their sync: say so.
            let amended = draft.recipients.filter(\.isUnsynced)
            do {
                try log.amend(transaction: id, recipients: amended.map(\.record))
            } catch {
                logger.error("delivery log: could not record failed syncs: \(error)")
            }
        case .success:
            break
        }
        linker.finish(draft.recipients)   // counts only the copies kept
        return .finished(draft)
    }
}
