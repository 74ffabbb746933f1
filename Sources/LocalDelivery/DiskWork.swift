import DeliveryLog
import Foundation
import Logging
import Maildir
import NIOCore
import SMTPCore
import Synchronization

// The parts of a delivery that run on the thread pool, each packed so that one hand-off does a
// whole step: `SpoolWriter` opens the spool and writes a batch of the body (and syncs it after
// the last), `Linker` links the synced file into every recipient's new/, and `FinalStep` does
// the last batch and the links in one hand-off.

/// Holds a transaction's spool between hand-offs to the thread pool: only ever touched under
/// the lock, so each closure may use it from whichever pool thread runs it.
final class SpoolBox: Sendable {
    let spool = Mutex<MessageSpool?>(nil)
}

/// What one hand-off of ``SpoolWriter/write(_:open:final:)`` did.
struct SpoolProgress: Sendable {
    /// The candidate the spool was opened in, when this hand-off opened it.
    var index: Int?
    /// The candidates that could not take the spool, with why.
    var openFailures: [(Int, any Error)] = []
    /// The synced message, after the last batch.
    var spooled: SpooledMessage?
}

/// Writes a message into `tmp/` of the first Maildir among `candidates` that can take it.
struct SpoolWriter: Sendable {
    let box: SpoolBox
    let name: String
    /// The trace fields written before the body.
    let header: [UInt8]
    let lineEndings: StoredLineEndings
    /// The recipients' Maildirs, in RCPT order.
    let candidates: [Maildir]
    /// Whether to make the file durable after the last batch.
    let sync: Bool
    /// Whether it is fsynced then, or (where the file system allows) written back then and made
    /// durable by the syncs of `new/` after the links (``Linker/sync(_:_:)``).
    let order: SyncOrder

    /// With `open`, first makes the spool in the first candidate that can be created and
    /// written (the others before it are reported as failures); then writes `chunks`; with
    /// `final`, syncs and closes the file. Nothing is written when no candidate could be opened.
    /// A failure after the spool was opened is thrown: it concerns every recipient.
    func write(_ chunks: [ByteBuffer], open: Bool, final: Bool) throws -> SpoolProgress {
        var progress = SpoolProgress()
        try box.spool.withLock { spool in
            if open {
                for (index, maildir) in candidates.enumerated() {
                    do {
                        let created = try Self.openSpool(in: maildir, name: name, lineEndings: lineEndings)
                        try created.write(header)
                        spool = created
                        progress.index = index
                        break
                    } catch {
                        progress.openFailures.append((index, error))
                    }
                }
            }
            guard let current = spool else { return }
            for chunk in chunks { try chunk.withUnsafeReadableBytes { try current.write($0) } }
            if final { progress.spooled = try current.finish(fsync: sync, order: order) }
        }
        return progress
    }

    /// A new spool in `maildir`'s `tmp/`; the Maildir is made (or made whole again) only when
    /// the open finds a directory missing, so a delivery to an existing one costs one open
    /// instead of three `stat`s and the path strings before it.
    static func openSpool(in maildir: Maildir, name: String, lineEndings: StoredLineEndings) throws(MaildirError) -> MessageSpool {
        do {
            return try MessageSpool(in: maildir, name: name, lineEndings: lineEndings)
        } catch where error.errno == ENOENT {
            try maildir.create()
            return try MessageSpool(in: maildir, name: name, lineEndings: lineEndings)
        }
    }

    /// Closes and removes an unfinished spool.
    func discard() {
        box.spool.withLock { $0?.discard() }
    }
}

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
    /// The distinct recipients, as the draft's records.
    let targets: [DeliveryTarget]
    let messageID: String?
    let bodyHash: String
    /// The other deliveries on their way to their links.
    let gathering: LinkGathering
    /// This delivery's place among them, taken when its body began.
    let arrival: LinkGathering.Arrival

    /// What the step came to.
    enum Outcome: Sendable {
        /// The spool could not be written or synced; nothing was linked or logged.
        case spoolFailed(any Error)
        /// No recipient's Maildir could take the spool; the draft says why, to be logged.
        case notSpooled(TransactionDraft)
        /// Linked and logged (or taken back): one reply per target, `nil` for a 250.
        case finished([SMTPError?])
    }

    func run(_ draft: TransactionDraft) -> Outcome {
        var draft = draft
        defer { arrival.arrive() }
        let progress: SpoolProgress
        do {
            progress = try spool.write(chunks, open: open, final: true)
        } catch {
            return .spoolFailed(error)
        }
        for (index, error) in progress.openFailures {
            draft.outcomes[index] = LocalDeliverySession.failure(error, targets[index].address, configuration)
        }
        guard let spooled = progress.spooled else { return .notSpooled(draft) }
        draft.transaction.size = spooled.size
        draft.transaction.messageID = messageID
        draft.transaction.bodySHA256 = bodyHash

        let linker = Linker(log: log, configuration: configuration, spooled: spooled, messageID: messageID, bodyHash: bodyHash)
        let pending = targets.indices.filter { draft.outcomes[$0] == nil }.map { ($0, targets[$0]) }
        let linked = linker.link(pending)
        let delivered = draft.apply(linked)
        // The row goes to the log before this delivery counts as linked, so that when the
        // last of a group links, every row of the group is with the log's writer. While
        // others are on their way it is staged: inserted while this delivery waits for them,
        // committed once it asks, after the wait. The group's link gathering announces the
        // requests of those it lets go, so their rows share one commit (one WAL sync) as
        // their links share one journal commit; a commit asked for before the wait was often
        // made while the group was still gathering, and the rest then needed one of their own.
        // Alone, the row is submitted with its request at once (staging would cost the
        // writer one more wake-up for nothing).
        let gathers = configuration.fsync && !delivered.isEmpty
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
        let unsynced = linker.sync(linked, pending)
        let committed = Result { try ticket.wait() }
        linker.finish(linked, pending, failed: unsynced)
        switch committed {
        case .failure(let error):
            // Not recorded, so not acknowledged: take the copies back, the client will retry.
            for path in delivered { unlink(path) }
            logger.error("delivery log failed: \(error)")
            return .finished(draft.addresses.map(DeliveryReplies.logUnavailable))
        case .success(let id):
            guard !unsynced.isEmpty else { return .finished(draft.outcomes) }
            // Rows went in as delivered while these copies failed their sync: say so.
            for (index, failure) in unsynced { draft.outcomes[index] = failure }
            let finished = draft.finished
            do {
                try log.amend(transaction: id, recipients: unsynced.map { finished.recipients[$0.0] })
            } catch {
                logger.error("delivery log: could not record failed syncs: \(error)")
            }
            return .finished(draft.outcomes)
        }
    }
}

/// The log's record of a transaction while it is delivered: one recipient record and one
/// outcome (`nil`: delivered or suppressed as a duplicate) per distinct recipient, filled in as
/// the steps finish.
struct TransactionDraft: Sendable {
    /// The transaction; its `recipients` are filled in by ``finished``.
    var transaction: TransactionRecord
    /// The recipients' records so far.
    var records: [RecipientRecord]
    /// The recipients' outcomes so far.
    var outcomes: [SMTPError?]
    /// The recipients' addresses, for reply texts.
    let addresses: [Address]
    /// The transaction's recipients refused at RCPT, recorded after the others.
    let refused: [RecipientRecord]

    init(_ transaction: TransactionRecord, targets: [DeliveryTarget], refused: [RecipientRecord] = []) {
        self.transaction = transaction
        self.refused = refused
        records = targets.map { target in
            RecipientRecord(recipient: target.canonical, originalRecipient: target.originalRecipient, mailbox: target.inbox.path,
                            status: .deferred, code: 451, enhancedCode: "4.3.0", text: "")
        }
        outcomes = Array(repeating: nil, count: targets.count)
        addresses = targets.map(\.address)
    }

    /// Takes in the linker's results; returns the paths of the copies made.
    mutating func apply(_ linked: [(Int, Linker.Outcome)]) -> [String] {
        var delivered: [String] = []
        for (index, outcome) in linked {
            records[index].duration = outcome.duration
            switch outcome.result {
            case .duplicate:
                records[index].status = .duplicate
                records[index].code = 250
                records[index].enhancedCode = "2.0.0"
                records[index].text = DeliveryReplies.duplicateText(addresses[index])
            case .delivered(let path, let maildir):
                delivered.append(path)
                // The name after the last "/", found on the octets: splitting the path into
                // Characters cost more than the rest of the bookkeeping together.
                let file = path.utf8.lastIndex(of: UInt8(ascii: "/")).map { String(path[path.index(after: $0)...]) } ?? path
                records[index].status = .delivered
                records[index].code = 250
                records[index].enhancedCode = "2.0.0"
                records[index].text = DeliveryReplies.deliveredText(addresses[index], file: file)
                records[index].file = file
                records[index].folder = maildir.folderName
                records[index].mailbox = maildir.path
            case .failed(let failure):
                outcomes[index] = failure
            }
        }
        return delivered
    }

    /// The transaction as logged: each recipient that failed carries its reply; those refused
    /// at RCPT follow the others (so that a recipient's index stays its place in `records`).
    var finished: TransactionRecord {
        var transaction = transaction
        transaction.recipients = records
        for (index, outcome) in outcomes.enumerated() {
            guard let outcome else { continue }
            DeliveryReplies.record(outcome, in: &transaction.recipients[index])
        }
        transaction.recipients += refused
        return transaction
    }
}
