import CFileSystem
import Dispatch
import Foundation
import GRDB

/// The SQLite record of every delivery (GRDB, WAL mode), shared by all sessions.
///
/// ``commit(_:)`` returns only once the rows are committed — durably when the log was opened
/// with `durable: true` — so a recipient's 250 can wait for it. Records are committed together
/// (group commit): a serial writer inserts every record queued into one open transaction and
/// commits it once a commit is asked for, so one fsync serves many deliveries; a commit request
/// expected shortly is announced first (``announce(_:)``), and a commit waits up to its gather
/// window for such requests. ``submit(_:announced:)`` hands a record over and asks for its
/// commit at once; ``stage(_:)`` hands it over to be inserted now and committed when its
/// ticket asks (``Ticket/requestCommit(announced:)``), so that the insert's work is done while
/// the caller still waits for something else. Neither blocks: the caller can do other work (the
/// agent syncs `new/`) while the record is committed, and ``Ticket/wait()`` waits for it.
public final class DeliveryLog: Sendable {
    let database: DatabasePool
    /// The queries of `letterbox deliveries` over this log's read connections, which see only
    /// committed rows.
    public let reader: DeliveryLogReader
    /// The duplicate check's own read connections.
    private let readers: DuplicateReaders
    private let lock = NSLock()
    /// Wakes the writer while it waits for announced records (one signal per wait, see
    /// ``GroupCommit/gathering``). A semaphore, whose timeouts run on the monotonic clock: a
    /// condition's wait ends at a wall-clock time, which a clock set back would stretch.
    private let gathered = DispatchSemaphore(value: 0)
    private let queue = GroupCommit()
    /// Writes the queued records, one batch at a time.
    private let writer = DispatchQueue(label: "letterbox.delivery-log.writer")

    /// A record's commit, as ``submit(_:)`` started it.
    public struct Ticket: Sendable {
        fileprivate let log: DeliveryLog
        fileprivate let waiter: Waiter

        /// Blocks until the record is committed; returns its transaction's id, or throws why
        /// it could not be. A staged record (``DeliveryLog/stage(_:)``) is committed when its
        /// commit is asked for (``requestCommit(announced:)``), or with another record's, or
        /// after its staged limit (0.5 s by default).
        public func wait() throws -> Int64 {
            waiter.done.wait()
            return try waiter.result!.get()
        }

        /// Asks for the commit of a staged record (``DeliveryLog/stage(_:)``): the writer
        /// commits the open transaction once every request announced (``DeliveryLog/announce(_:)``)
        /// has come, or its gather window has passed. `announced`: this request fulfils an
        /// earlier announcement.
        public func requestCommit(announced: Bool) {
            log.requestCommit(waiter, announced: announced)
        }
    }

    /// A record waiting for its commit; only its own waiter is woken when it is done (a
    /// broadcast woke every waiting session for each batch).
    fileprivate final class Waiter: @unchecked Sendable {
        // @unchecked: `result` is written once, by the writer, before it signals `done`, and
        // read only after `done` was waited for: the semaphore orders the two. `request` is
        // read and written only with the log's lock held.
        var result: Result<Int64, any Error>?
        let done = DispatchSemaphore(value: 0)
        var request: Request

        init(request: Request) {
            self.request = request
        }
    }

    /// Where a record's commit request stands. A request counts (``GroupCommit/requests``)
    /// only while its record is still to be committed: a staged record's request that comes
    /// after its record went out with another's commit is ignored, where a count of requests
    /// alone kept it and committed the next staged record at once.
    fileprivate enum Request {
        /// Staged: no commit asked for yet.
        case notYet
        /// Asked for, and counted.
        case asked
        /// In a commit already (made or under way).
        case committing
    }

    /// The records waiting for a commit.
    private final class GroupCommit: @unchecked Sendable {
        // @unchecked: every property is read and written only with the log's lock held (see
        // enqueue, requestCommit and writePending()), so no two threads touch them at once.
        var pending: [(Operation, Waiter)] = []
        /// Commits asked for (by a submitted record, an amendment or a staged record's ticket)
        /// since the writer's last commit began.
        var requests = 0
        /// Whether a writer run is queued or running; it drains `pending` before it ends.
        var writing = false
        /// Commit requests announced (``DeliveryLog/announce(_:)``) and not yet made or withdrawn.
        var announced = 0
        /// Whether the writer waits for a request or a record and no one has woken it yet.
        var gathering = false
        /// Amendments whose transaction failed: tried again with each later commit (and at
        /// ``DeliveryLog/close()``), so that a recipient whose copy was taken back is not left
        /// recorded as delivered once the log works again.
        var unappliedAmendments: [(Int64, [RecipientRecord])] = []
        /// Set by ``DeliveryLog/close()``.
        var closed = false
    }

    /// How long a staged record waits for its commit to be asked for before the writer commits
    /// it all the same (see ``init(path:durable:busyTimeout:gatherWindow:stagedLimit:)``).
    private let stagedLimit: TimeInterval

    /// How long a commit may wait for commit requests announced but not yet made.
    private let gatherWindow: TimeInterval

    /// What the writer does for one queued entry, inside its transaction.
    fileprivate enum Operation {
        /// Inserts a transaction and its recipients.
        case record(TransactionRecord)
        /// Rewrites recipients of a committed transaction (``amend(transaction:recipients:)``).
        case amend(Int64, [RecipientRecord])
    }

    /// Says that `count` commit requests (submitted records, or staged records' requests) will
    /// come shortly — the agent's link gathering, as it lets a group of deliveries go: a commit
    /// starting meanwhile waits a little for them, so that their records share one sync.
    public func announce(_ count: Int = 1) {
        lock.lock()
        queue.announced += count
        lock.unlock()
    }

    /// Takes back one request of an ``announce(_:)`` that will not be made.
    public func withdraw() {
        lock.lock()
        queue.announced -= 1
        let wake = queue.gathering
        queue.gathering = false
        lock.unlock()
        if wake { gathered.signal() }
    }

    /// Opens (creating and migrating as needed) the log at `path`. With `durable`, every commit
    /// is synced to disk (SQLite `synchronous = FULL`); without, a crash may lose the last ones.
    /// `busyTimeout` is how long a write waits for another process holding the lock.
    /// `gatherWindow` is how long a commit may wait for records announced (``announce()``) and
    /// not yet submitted, so that they share its sync: 1 ms by default. An announced record is
    /// typically a few hundred microseconds from its submission (the rest of its file work),
    /// while the deliveries already queued are busy with their own syncs for a millisecond or
    /// more, so the wait mostly hides behind those: at 8 sessions it gave fewer, larger commits
    /// (disk flushes per message 2.0 → 1.7) and +15–25 % msg/s. `stagedLimit` is how long a
    /// staged record waits for its commit to be asked for before the writer commits it all the
    /// same: its caller asks within microseconds to milliseconds (the agent, once link
    /// gathering lets it go, 2 ms at most), so this only bounds a caller that never does, whose
    /// open transaction would otherwise hold the database's write lock.
    public init(path: String, durable: Bool = true, busyTimeout: TimeInterval = 5, gatherWindow: TimeInterval = 0.001,
                stagedLimit: TimeInterval = 0.5) throws {
        self.gatherWindow = gatherWindow
        self.stagedLimit = stagedLimit
        readers = DuplicateReaders(path: path, busyTimeout: busyTimeout)
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(busyTimeout)
        // The writer keeps its transaction open between its turns on the connection (staged
        // records are inserted as they come and committed when asked for, see stage(_:)).
        configuration.allowsUnsafeTransactions = true
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA cache_size = -512")
        }
        database = try DatabasePool(path: path, configuration: configuration)
        reader = DeliveryLogReader(database: database)
        // Set here, on the writing connection once the pool is open: GRDB turns WAL on after a
        // connection's preparation and sets `synchronous = NORMAL` as it does, which syncs the
        // WAL only at checkpoints, so a commit made after the last one could be lost to a
        // power failure although it had returned. The WAL is cut back to
        // ``walSizeLimit`` whenever it starts again from its beginning (see there).
        try database.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = \(durable ? "FULL" : "NORMAL")")
            try db.execute(sql: "PRAGMA journal_size_limit = \(Self.walSizeLimit)")
        }
        try DeliveryLogSchema.migrator.migrate(database)
        // Reads of the log (the duplicate check's, mostly from the WAL) no longer write access
        // times: under relatime the first read after each commit did, a journaled update of
        // the inode that waited for the journal commit writing it (ext4). Set through SQLite's
        // own descriptors, never through one opened here: closing it would drop this
        // process's locks on the file (see letterbox_skip_access_times_of_open_file). Where
        // the file system has no such attribute nothing changes.
        for file in [path, path + "-wal"] { _ = letterbox_skip_access_times_of_open_file(file) }
    }

    /// The WAL's size once it restarts, in bytes: SQLite's `journal_size_limit`. The WAL grows
    /// while frames are appended; a checkpoint (every 1,000 pages, about 4 MiB, SQLite's
    /// default) copies them into the database, and the next commit after a checkpoint that
    /// copied every frame while no reader was still reading from the WAL starts it again
    /// from its beginning and truncates the file to this size. A reader that keeps one read
    /// transaction open (not a connection: a transaction, such as an unfinished `SELECT` or an
    /// explicit `BEGIN` in the `sqlite3` shell) keeps it from restarting for as long, and the
    /// WAL grows meanwhile; it is cut back at the first restart after that reader lets go.
    public static let walSizeLimit = 8 * 1024 * 1024

    /// Closes the log: waits until every record handed over is committed (or failed), tries
    /// once more any amendment whose commit had failed, then closes the duplicate check's
    /// connections, the read connections and the writing connection last — the last to close
    /// checkpoints the WAL and, when no other process has the log open, removes it. Nothing
    /// may be handed over after this; closing again does nothing. Throws when an amendment
    /// still could not be recorded, or SQLite could not close.
    public func close() throws {
        writer.sync {}   // the writer's run ends only with nothing queued or open
        lock.lock()
        guard !queue.closed else { lock.unlock(); return }
        queue.closed = true
        let unapplied = queue.unappliedAmendments
        queue.unappliedAmendments.removeAll()
        lock.unlock()
        var failure: (any Error)?
        if !unapplied.isEmpty {
            do {
                try database.write { db in
                    for (id, recipients) in unapplied { try Self.amend(id, recipients, db) }
                }
            } catch {
                failure = error
            }
        }
        readers.close()
        database.releaseMemory()   // closes the pool's read connections
        try database.close()
        if let failure { throw failure }
    }

    /// Whether every commit is synced to disk before it returns (SQLite's `synchronous` is
    /// FULL or EXTRA on the connection that writes).
    public var syncsEveryCommit: Bool {
        get throws {
            try database.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? 0 } >= 2
        }
    }

    /// Records a transaction and its recipients; returns the transaction's id once committed.
    ///
    /// It blocks the calling thread until the commit: call it where blocking is expected.
    public func commit(_ transaction: TransactionRecord) throws -> Int64 {
        try submit(transaction).wait()
    }

    /// Queues a transaction and its recipients for the next commit and returns at once; the
    /// ticket's ``Ticket/wait()`` gives the outcome. `announced`: this record fulfils an
    /// earlier ``announce()``.
    public func submit(_ transaction: TransactionRecord, announced: Bool = false) -> Ticket {
        enqueue(.record(transaction), request: true, announced: announced)
    }

    /// Queues a transaction and its recipients to be inserted now and committed later, when
    /// its commit is asked for (``Ticket/requestCommit(announced:)``): the insert's work is
    /// done while the caller goes on (the agent waits for the other deliveries about to link),
    /// and only the commit — the WAL's write and sync — is left once it asks. A staged record
    /// whose request never comes is committed after the staged limit (0.5 s by default) all
    /// the same. Until its commit it is not visible to readers.
    public func stage(_ transaction: TransactionRecord) -> Ticket {
        enqueue(.record(transaction), request: false, announced: false)
    }

    private func enqueue(_ operation: Operation, request: Bool, announced: Bool) -> Ticket {
        let waiter = Waiter(request: request ? .asked : .notYet)
        lock.lock()
        queue.pending.append((operation, waiter))
        var wake = queue.gathering
        if request { queue.requests += 1 }
        if announced { queue.announced -= 1 }
        if wake { queue.gathering = false }
        // One writer run at a time drains the queue; a record queued while it runs is taken
        // by its next round.
        let start = !queue.writing
        queue.writing = true
        lock.unlock()
        if start { wake = false; writer.async { self.writePending() } }
        if wake { gathered.signal() }
        return Ticket(log: self, waiter: waiter)
    }

    fileprivate func requestCommit(_ waiter: Waiter, announced: Bool) {
        lock.lock()
        if waiter.request == .notYet {
            waiter.request = .asked
            queue.requests += 1
        }
        if announced { queue.announced -= 1 }
        let wake = queue.gathering
        queue.gathering = false
        lock.unlock()
        if wake { gathered.signal() }
    }

    /// Waits for a wake-up or `deadline`, the lock held before and after.
    private func waitForWriterSignal(until deadline: DispatchTime) {
        queue.gathering = true
        lock.unlock()
        // A signal left over from a wait that had timed out just returns at once.
        _ = gathered.wait(timeout: deadline)
        lock.lock()
        queue.gathering = false
    }

    /// Inserts queued records into the open transaction as they come (beginning one when none
    /// is open); commits it once a commit was asked for and the announced requests came (or the
    /// gather window passed), then wakes each of its waiters; until no record is left. A failed
    /// insert rolls the transaction back, and every record in it fails with that error.
    private func writePending() {
        var open: [(Operation, Waiter)] = []
        var results: [Int64] = []
        var failure: (any Error)?
        /// Amendments of earlier failed commits made again in the open transaction.
        var retried: [(Int64, [RecipientRecord])] = []
        func insert(_ entries: [(Operation, Waiter)]) {
            guard !entries.isEmpty else { return }
            open += entries
            guard failure == nil else { return }
            do {
                try database.writeWithoutTransaction { db in
                    if !db.isInsideTransaction {
                        try db.execute(sql: "BEGIN IMMEDIATE")
                        retried = retryAmendments(db)
                    }
                    for (operation, _) in entries {
                        switch operation {
                        case .record(let record): results.append(try Self.insert(record, db))
                        case .amend(let id, let recipients): try Self.amend(id, recipients, db); results.append(id)
                        }
                    }
                }
            } catch {
                failure = error
                try? database.writeWithoutTransaction { db in if db.isInsideTransaction { try db.execute(sql: "ROLLBACK") } }
            }
        }
        while true {
            lock.lock()
            let incoming = queue.pending
            queue.pending.removeAll()
            lock.unlock()
            insert(incoming)
            lock.lock()
            if !queue.pending.isEmpty { lock.unlock(); continue }
            if open.isEmpty { queue.writing = false; lock.unlock(); return }
            if queue.requests == 0 {
                // Nothing asks for a commit yet: wait for a request or more records to insert
                // (the transaction stays open meanwhile), or for the staged limit.
                let deadline = DispatchTime.now() + stagedLimit
                while queue.requests == 0 && queue.pending.isEmpty && DispatchTime.now() < deadline {
                    waitForWriterSignal(until: deadline)
                }
                if queue.requests == 0 && queue.pending.isEmpty { queue.requests = 1 }
                lock.unlock()
                continue
            }
            // A commit was asked for: wait a little for the requests announced.
            if gatherWindow > 0 && queue.announced > 0 {
                let deadline = DispatchTime.now() + gatherWindow
                while queue.announced > 0 && DispatchTime.now() < deadline { waitForWriterSignal(until: deadline) }
            }
            let last = queue.pending
            queue.pending.removeAll()
            queue.requests = 0
            // Requests for these records from now on are for a commit under way: not counted.
            for (_, waiter) in open + last { waiter.request = .committing }
            lock.unlock()
            insert(last)
            if failure == nil {
                do {
                    try database.writeWithoutTransaction { db in try db.execute(sql: "COMMIT") }
                } catch {
                    failure = error
                    try? database.writeWithoutTransaction { db in if db.isInsideTransaction { try db.execute(sql: "ROLLBACK") } }
                }
            }
            if failure != nil {
                // Amendments not recorded are kept to be tried again: each concerns a
                // recipient already told to retry, whose row must not stay "delivered".
                var unrecorded = retried
                for (operation, _) in open {
                    if case .amend(let id, let recipients) = operation { unrecorded.append((id, recipients)) }
                }
                lock.lock()
                queue.unappliedAmendments += unrecorded
                lock.unlock()
            }
            for (index, entry) in open.enumerated() {
                entry.1.result = failure.map { .failure($0) } ?? .success(results[index])
                entry.1.done.signal()
            }
            open.removeAll()
            results.removeAll()
            retried.removeAll()
            failure = nil
        }
    }

    /// Rewrites the outcome of recipients of a committed transaction whose delivery failed
    /// after the record was submitted (their copy could not be synced): `status`, reply and no
    /// file, so that the log says what the client was told. When its commit fails, the
    /// amendment is kept and made again with each later commit until one succeeds (and at
    /// ``close()``); the error is thrown all the same.
    public func amend(transaction id: Int64, recipients: [RecipientRecord]) throws {
        _ = try enqueue(.amend(id, recipients), request: true, announced: false).wait()
    }

    /// Makes the amendments of earlier failed commits inside the transaction just begun, under
    /// a savepoint: if they fail again they are kept for the next commit and the transaction
    /// goes on without them. Returns those made.
    private func retryAmendments(_ db: Database) -> [(Int64, [RecipientRecord])] {
        lock.lock()
        let unapplied = queue.unappliedAmendments
        queue.unappliedAmendments.removeAll()
        lock.unlock()
        guard !unapplied.isEmpty else { return [] }
        do {
            try db.execute(sql: "SAVEPOINT amendments")
            do {
                for (id, recipients) in unapplied { try Self.amend(id, recipients, db) }
                try db.execute(sql: "RELEASE amendments")
                return unapplied
            } catch {
                try db.execute(sql: "ROLLBACK TO amendments")
                try db.execute(sql: "RELEASE amendments")
            }
        } catch {}
        lock.lock()
        queue.unappliedAmendments = unapplied + queue.unappliedAmendments
        lock.unlock()
        return []
    }

    private static func amend(_ id: Int64, _ recipients: [RecipientRecord], _ db: Database) throws {
        for recipient in recipients {
            try db.execute(sql: """
                UPDATE deliveries SET status = ?, code = ?, enhanced_code = ?, text = ?, file = NULL, folder = NULL
                WHERE transaction_id = ? AND recipient = ?
                """, arguments: [recipient.status.rawValue, recipient.code, recipient.enhancedCode, recipient.text,
                                 id, recipient.recipient])
        }
    }

    /// ``commit(_:)`` from async code: the wait happens on a Dispatch thread, never on one of
    /// the concurrency pool's.
    public func record(_ transaction: TransactionRecord) async throws -> Int64 {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try self.commit(transaction) })
            }
        }
    }

    private static func insert(_ record: TransactionRecord, _ db: Database) throws -> Int64 {
        let time = Timestamp.format(record.time)
        // Cached statements: parsing the SQL again for every row was 1 % of the agent's CPU.
        try db.cachedStatement(sql: """
            INSERT INTO transactions (session_id, time, client_address, helo, sender, size, message_id, body_sha256)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [record.sessionID, time, record.clientAddress, record.helo, record.sender, record.size,
                             record.messageID, record.bodySHA256])
        let id = db.lastInsertedRowID
        for recipient in record.recipients {
            try db.cachedStatement(sql: """
                INSERT INTO deliveries (transaction_id, time, recipient, original_recipient, mailbox, folder, file,
                                        status, code, enhanced_code, text, duration)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [id, time, recipient.recipient, recipient.originalRecipient, recipient.mailbox,
                                 recipient.folder, recipient.file, recipient.status.rawValue, recipient.code,
                                 recipient.enhancedCode, recipient.text, recipient.duration])
        }
        return id
    }

    /// The copies of the message with this Message-ID and body hash delivered at or after
    /// `since`, by recipient: what the duplicate check asks, once per message whatever its
    /// number of recipients (one read transaction instead of one per recipient: with five
    /// recipients, four fewer rounds of the WAL's shared-memory locks and of the index pages a
    /// reader re-reads after every commit).
    ///
    /// It blocks the calling thread for one read (a few microseconds from the index): call it
    /// where blocking is expected, as the delivery agent does on its disk thread, in the same
    /// hand-off as the links.
    public func deliveredCopies(messageID: String, bodySHA256: String, since: Date) throws -> DeliveredCopies {
        let since = Timestamp.format(since)
        // One SELECT reads one consistent snapshot by itself: no BEGIN/COMMIT around it. It
        // starts from the few transactions with this Message-ID (its index), never from every
        // delivery of a busy recipient: the unary `+` keeps SQLite's planner off the time
        // index, which made each check scan the whole window.
        let rows = try readers.withConnection { connection in
            try connection.copies(messageID: messageID, bodySHA256: bodySHA256, since: since)
        }
        var byRecipient: [String: [DeliveredCopies.Copy]] = [:]
        for (recipient, mailbox, file) in rows { byRecipient[recipient, default: []].append(.init(mailbox: mailbox, file: file)) }
        return DeliveredCopies(byRecipient: byRecipient)
    }

    /// Whether `recipient` already got the message with this Message-ID and body hash at or
    /// after `since`, and still has that copy (``deliveredCopies(messageID:bodySHA256:since:)``
    /// for one recipient).
    public func alreadyDelivered(recipient: String, messageID: String, bodySHA256: String, since: Date,
                                 isPresent: (_ mailbox: String, _ file: String) -> Bool) throws -> Bool {
        try deliveredCopies(messageID: messageID, bodySHA256: bodySHA256, since: since).hasCopy(for: recipient, isPresent: isPresent)
    }
}

/// The delivered copies of one message, by recipient (``DeliveryLog/deliveredCopies(messageID:bodySHA256:since:)``).
public struct DeliveredCopies: Sendable {
    /// Where one copy was delivered.
    public struct Copy: Sendable, Hashable {
        /// The Maildir.
        public var mailbox: String
        /// The file's name in its `new/`.
        public var file: String
    }

    let byRecipient: [String: [Copy]]

    /// Whether `recipient` got the message and still has a copy: `isPresent(mailbox, file)` is
    /// asked about each of its copies, until one is there.
    ///
    /// A row alone is not proof: the agent commits a transaction's row while the recipients'
    /// `new/` are being synced, so after a power failure a row can name a copy that never
    /// became durable — for a delivery that never got its 250, which the client sends again
    /// and which must then be delivered, not suppressed.
    public func hasCopy(for recipient: String, isPresent: (_ mailbox: String, _ file: String) -> Bool) -> Bool {
        byRecipient[recipient]?.contains { isPresent($0.mailbox, $0.file) } ?? false
    }
}
