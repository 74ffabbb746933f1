import Dispatch
import Foundation

/// The log's one writer and the timing protocol around it (group commit): records handed over
/// are inserted into one open transaction of the engine as they come, and the transaction is
/// committed once a commit is asked for, so that one sync serves many deliveries.
///
/// Invariants (each kept under `lock`):
/// - One writer run at a time (`writing`) drains `pending`; it ends only with nothing pending
///   and nothing open, so `drain()` (a sync on its queue) returns with every record handed
///   over committed or failed.
/// - `requests` counts the commit requests made for records not yet in a commit: a ticket's
///   request counts once, and only while its record's `request` is `.notYet` → `.asked`;
///   when a commit starts, every record in it becomes `.committing` and `requests` goes back
///   to 0, so a request that comes later for one of them is not counted for the next records.
/// - A commit waits for `announced` (requests said to be coming, by link gathering) up to
///   `gatherWindow`; a transaction nobody asks to commit is committed after `stagedLimit`.
/// - `gathering` is true only while the writer waits on `gathered`; whoever clears it signals
///   once, so a signal is never lost and at most one is left over (a later wait returns at
///   once and loops).
/// - An amendment whose transaction failed goes to `unappliedAmendments`, and is made again
///   at the start of the next transaction under a savepoint, until it succeeds.
final class GroupCommitWriter: @unchecked Sendable {
    // @unchecked: every mutable property is read and written only with `lock` held; the
    // engine's writing methods are called only from `queue`'s one block at a time.
    private let engine: any DeliveryLogEngine
    private let metrics = DeliveryLogMetrics()
    private let lock = NSLock()
    /// Wakes the writer while it waits (one signal per wait, see `gathering`). A semaphore,
    /// whose timeouts run on the monotonic clock: a condition's wait ends at a wall-clock time,
    /// which a clock set back would stretch.
    private let gathered = DispatchSemaphore(value: 0)
    /// Runs the writer, one batch at a time.
    private let queue = DispatchQueue(label: "letterbox.delivery-log.writer")
    /// How long a commit may wait for commit requests announced but not yet made.
    private let gatherWindow: TimeInterval
    /// How long a transaction no one asked to commit stays open.
    private let stagedLimit: TimeInterval

    private var pending: [Entry] = []
    /// Commits asked for since the writer's last commit began, for records not in it.
    private var requests = 0
    /// Whether a writer run is queued or running; it drains `pending` before it ends.
    private var writing = false
    /// Commit requests announced and not yet made or withdrawn.
    private var announced = 0
    /// Whether the writer waits for a request or a record and no one has woken it yet.
    private var gathering = false
    /// Amendments whose transaction failed, to be made again.
    private var unappliedAmendments: [Amendment] = []

    init(engine: any DeliveryLogEngine, gatherWindow: TimeInterval, stagedLimit: TimeInterval) {
        self.engine = engine
        self.gatherWindow = gatherWindow
        self.stagedLimit = stagedLimit
    }

    /// What the writer reports when the engine breaks its contract.
    enum EngineError: Error, CustomStringConvertible {
        /// The commit returned fewer or more ids than operations were applied.
        case idsMissing(expected: Int, got: Int)

        var description: String {
            switch self {
            case .idsMissing(let expected, let got): "the log's engine committed \(expected) operations but returned \(got) ids"
            }
        }
    }

    /// An operation queued, and who waits for its commit.
    private struct Entry {
        var operation: LogOperation
        var waiter: Waiter
    }

    /// Where a record's commit request stands (see the invariants above).
    enum Request {
        /// Staged: no commit asked for yet.
        case notYet
        /// Asked for, and counted.
        case asked
        /// In a commit already (made or under way).
        case committing
    }

    /// A record waiting for its commit; only its own waiter is woken when it is done.
    final class Waiter: @unchecked Sendable {
        // @unchecked: `result` is written once, by the writer, before it signals `done`, and
        // read only after `done` was waited for: the semaphore orders the two. `request` is
        // read and written only with the writer's lock held.
        var result: Result<Int64, any Error>?
        let done = DispatchSemaphore(value: 0)
        var request: Request

        init(request: Request) {
            self.request = request
        }

        /// Blocks until the record is committed; its transaction's id, or why it could not be.
        func wait() throws -> Int64 {
            done.wait()
            return try result!.get()
        }
    }

    /// Says that `count` commit requests will come shortly.
    func announce(_ count: Int) {
        lock.lock()
        announced += count
        lock.unlock()
    }

    /// Takes back one announced request that will not be made.
    func withdraw() {
        lock.lock()
        announced -= 1
        let wake = gathering
        gathering = false
        lock.unlock()
        if wake { gathered.signal() }
    }

    /// Queues `operation`; with `request`, its commit is asked for at once. `announced`: this
    /// request fulfils an earlier announcement.
    func enqueue(_ operation: LogOperation, request: Bool, announced fulfils: Bool) -> Waiter {
        let waiter = Waiter(request: request ? .asked : .notYet)
        lock.lock()
        pending.append(Entry(operation: operation, waiter: waiter))
        var wake = gathering
        if request { requests += 1 }
        if fulfils { announced -= 1 }
        if wake { gathering = false }
        // One writer run at a time drains the queue; a record queued while it runs is taken
        // by its next round.
        let start = !writing
        writing = true
        lock.unlock()
        if start { wake = false; queue.async { self.writePending() } }
        if wake { gathered.signal() }
        return waiter
    }

    /// Asks for the commit of `waiter`'s staged record (counted only while it is not in a
    /// commit yet).
    func requestCommit(_ waiter: Waiter, announced fulfils: Bool) {
        lock.lock()
        if waiter.request == .notYet {
            waiter.request = .asked
            requests += 1
        }
        if fulfils { announced -= 1 }
        let wake = gathering
        gathering = false
        lock.unlock()
        if wake { gathered.signal() }
    }

    /// Returns once the writer has nothing queued or open.
    func drain() {
        queue.sync {}
    }

    /// Takes the amendments not made yet, for a last try at close.
    func takeUnappliedAmendments() -> [Amendment] {
        lock.lock()
        defer { lock.unlock() }
        let taken = unappliedAmendments
        unappliedAmendments.removeAll()
        return taken
    }

    /// Waits for a wake-up or `deadline`, the lock held before and after.
    private func waitForWriterSignal(until deadline: DispatchTime) {
        gathering = true
        lock.unlock()
        // A signal left over from a wait that had timed out just returns at once.
        _ = gathered.wait(timeout: deadline)
        lock.lock()
        gathering = false
    }

    /// Inserts queued records into the open transaction as they come (beginning one when none
    /// is open); commits it once a commit was asked for and the announced requests came (or the
    /// gather window passed), then wakes each of its waiters; until no record is left. A failed
    /// insert rolls the transaction back, and every record in it fails with that error.
    private func writePending() {
        var open: [Entry] = []
        var results: [Int64] = []
        var failure: (any Error)?
        /// Amendments of earlier failed commits made again in the open transaction.
        var retried: [Amendment] = []
        func insert(_ entries: [Entry]) {
            guard !entries.isEmpty else { return }
            let begins = open.isEmpty
            open += entries
            guard failure == nil else { return }
            do {
                if begins {
                    try engine.begin()
                    retried = retryAmendments()
                }
                try engine.apply(entries.map(\.operation))
            } catch {
                failure = error
                engine.rollback()
            }
        }
        while true {
            lock.lock()
            let incoming = pending
            pending.removeAll()
            lock.unlock()
            insert(incoming)
            lock.lock()
            if !pending.isEmpty { lock.unlock(); continue }
            if open.isEmpty { writing = false; lock.unlock(); return }
            if requests == 0 {
                // Nothing asks for a commit yet: wait for a request or more records to insert
                // (the transaction stays open meanwhile), or for the staged limit.
                let deadline = DispatchTime.now() + stagedLimit
                while requests == 0 && pending.isEmpty && DispatchTime.now() < deadline {
                    waitForWriterSignal(until: deadline)
                }
                if requests == 0 && pending.isEmpty { requests = 1 }
                lock.unlock()
                continue
            }
            // A commit was asked for: wait a little for the requests announced.
            if gatherWindow > 0 && announced > 0 {
                let deadline = DispatchTime.now() + gatherWindow
                while announced > 0 && DispatchTime.now() < deadline { waitForWriterSignal(until: deadline) }
            }
            let last = pending
            pending.removeAll()
            requests = 0
            // Requests for these records from now on are for a commit under way: not counted.
            for entry in open + last { entry.waiter.request = .committing }
            lock.unlock()
            insert(last)
            if failure == nil {
                do {
                    let started = DispatchTime.now().uptimeNanoseconds
                    results = try engine.commit()
                    metrics.committed(open.map(\.operation),
                                      nanoseconds: Int64(DispatchTime.now().uptimeNanoseconds - started))
                    // An engine that answers for fewer operations than it was given broke its
                    // contract; its waiters must not be told a made-up id.
                    if results.count != open.count { failure = EngineError.idsMissing(expected: open.count, got: results.count) }
                } catch {
                    failure = error
                    engine.rollback()
                }
            }
            if failure != nil {
                // Amendments not recorded are kept to be tried again: each concerns a
                // recipient already told to retry, whose row must not stay "delivered".
                var unrecorded = retried
                for entry in open {
                    if case .amend(let amendment) = entry.operation { unrecorded.append(amendment) }
                }
                lock.lock()
                unappliedAmendments += unrecorded
                lock.unlock()
            }
            for (index, entry) in open.enumerated() {
                entry.waiter.result = failure.map { .failure($0) } ?? .success(results[index])
                entry.waiter.done.signal()
            }
            open.removeAll()
            results.removeAll()
            retried.removeAll()
            failure = nil
        }
    }

    /// Makes the amendments of earlier failed commits inside the transaction just begun, all
    /// or none: if they fail again they are kept for the next commit and the transaction goes
    /// on without them. Returns those made.
    private func retryAmendments() -> [Amendment] {
        lock.lock()
        let unapplied = unappliedAmendments
        unappliedAmendments.removeAll()
        lock.unlock()
        guard !unapplied.isEmpty else { return [] }
        if engine.applyAtomically(unapplied) { return unapplied }
        lock.lock()
        unappliedAmendments = unapplied + unappliedAmendments
        lock.unlock()
        return []
    }
}
