import Dispatch
import Foundation
import PostgresAccess
import Synchronization

/// The record of every delivery, shared by all sessions: what the agent and `letterbox
/// deliver` write through. Its rows are kept by an engine (``DeliveryLogEngine``): one SQLite
/// file by default (``init(path:durable:busyTimeout:gatherWindow:stagedLimit:)``).
///
/// ``commit(_:)`` returns only once the rows are committed — durably when the log was opened
/// with `durable: true` — so a recipient's 250 can wait for it. Records are committed together
/// (group commit, ``GroupCommitWriter``): one writer inserts every record handed over into one
/// open transaction and commits it once a commit is asked for, so one fsync serves many
/// deliveries. ``submit(_:)`` hands a record over and asks for its commit at once without
/// blocking: the caller can do other work (the agent syncs `new/`) while the record is
/// committed, and ``Ticket/wait()`` waits for it. The agent's link gathering also uses the
/// package's timing protocol (``announce(_:)``, ``withdraw()``, ``stage(_:)``,
/// ``Ticket/requestCommit(announced:)``), which is not public API.
public final class DeliveryLog: Sendable {
    /// Where the rows are kept.
    let engine: any DeliveryLogEngine
    /// The queries of `letterbox deliveries` over this log's read connections, which see only
    /// committed rows.
    public let reader: DeliveryLogReader
    private let writer: GroupCommitWriter
    /// Set by ``close()``.
    private let closed = Mutex(false)

    /// A record's commit, as ``submit(_:)`` started it.
    public struct Ticket: Sendable {
        fileprivate let writer: GroupCommitWriter
        fileprivate let waiter: GroupCommitWriter.Waiter

        /// Blocks until the record is committed; returns its transaction's id, or throws why
        /// it could not be. A staged record (``DeliveryLog/stage(_:)``) is committed when its
        /// commit is asked for (``requestCommit(announced:)``), or with another record's, or
        /// after its staged limit (0.5 s by default).
        public func wait() throws -> Int64 {
            try waiter.wait()
        }

        /// Asks for the commit of a staged record (``DeliveryLog/stage(_:)``): the writer
        /// commits the open transaction once every request announced (``DeliveryLog/announce(_:)``)
        /// has come, or its gather window has passed. `announced`: this request fulfils an
        /// earlier announcement.
        package func requestCommit(announced: Bool) {
            writer.requestCommit(waiter, announced: announced)
        }
    }

    /// Opens (creating and migrating as needed) the SQLite log at `path`. With `durable`, every
    /// commit is synced to disk (SQLite `synchronous = FULL`); without, a crash may lose the last
    /// ones. `busyTimeout` is how long a write waits for another process holding the lock.
    /// `gatherWindow` is how long a commit may wait for records announced (``announce(_:)``)
    /// and not yet submitted, so that they share its sync: 1 ms by default. An announced record
    /// is typically a few hundred microseconds from its submission (the rest of its file work),
    /// while the deliveries already queued are busy with their own syncs for a millisecond or
    /// more, so the wait mostly hides behind those.
    /// `stagedLimit` is how long a staged record waits for its commit to be asked for before the
    /// writer commits it all the same: its caller asks within microseconds to milliseconds (the
    /// agent, once link gathering lets it go, 2 ms at most), so this only bounds a caller that
    /// never does, whose open transaction would otherwise hold the database's write lock.
    public convenience init(path: String, durable: Bool = true, busyTimeout: TimeInterval = 5,
                            gatherWindow: TimeInterval = 0.001, stagedLimit: TimeInterval = 0.5) throws {
        self.init(engine: try SQLiteEngine(path: path, durable: durable, busyTimeout: busyTimeout),
                  gatherWindow: gatherWindow, stagedLimit: stagedLimit)
    }

    /// Opens the log at `location`: a PostgreSQL server's URL (`postgres://` or `postgresql://`,
    /// see ``PostgresLocation``), whose schema is created or migrated under an advisory lock, or
    /// else the path of a SQLite file (``init(path:durable:busyTimeout:gatherWindow:stagedLimit:)``).
    /// `durable` and `busyTimeout` concern SQLite only: on PostgreSQL the server's
    /// `synchronous_commit` decides (``summary``).
    public convenience init(location: String, durable: Bool = true, busyTimeout: TimeInterval = 5) throws {
        if PostgresLocation.isURL(location) {
            self.init(engine: try PostgresEngine(location: try PostgresLocation(url: location)), gatherWindow: 0.001,
                      stagedLimit: 0.5)
        } else {
            try self.init(path: location, durable: durable, busyTimeout: busyTimeout)
        }
    }

    /// What keeps the log and whether a commit is durable when it returns, in words, for
    /// `serve`'s start-up line.
    public var summary: String { engine.summary }

    /// A log over an open engine, with the group commit's `gatherWindow` and `stagedLimit`
    /// (see ``init(path:durable:busyTimeout:gatherWindow:stagedLimit:)``).
    package init(engine: any DeliveryLogEngine, gatherWindow: TimeInterval, stagedLimit: TimeInterval) {
        self.engine = engine
        reader = DeliveryLogReader(engine.queries)
        writer = GroupCommitWriter(engine: engine, gatherWindow: gatherWindow, stagedLimit: stagedLimit)
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
        writer.drain()
        guard closed.withLock({ wasClosed in defer { wasClosed = true }; return !wasClosed }) else { return }
        var failure: (any Error)?
        let unapplied = writer.takeUnappliedAmendments()
        if !unapplied.isEmpty {
            do {
                try engine.begin()
                try engine.apply(unapplied.map(LogOperation.amend))
                _ = try engine.commit()
            } catch {
                engine.rollback()
                failure = error
            }
        }
        try engine.close()
        if let failure { throw failure }
    }

    /// Whether every commit is synced to disk before it returns (SQLite's `synchronous` is
    /// FULL or EXTRA on the connection that writes).
    public var syncsEveryCommit: Bool {
        get throws { try engine.syncsEveryCommit }
    }

    /// Records a transaction and its recipients; returns the transaction's id once committed.
    ///
    /// It blocks the calling thread until the commit: call it where blocking is expected.
    public func commit(_ transaction: TransactionRecord) throws -> Int64 {
        try submit(transaction).wait()
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

    /// Queues a transaction and its recipients for the next commit and returns at once; the
    /// ticket's ``Ticket/wait()`` gives the outcome.
    public func submit(_ transaction: TransactionRecord) -> Ticket {
        submit(transaction, announced: false)
    }

    /// ``submit(_:)``, fulfilling an earlier ``announce(_:)`` when `announced`.
    package func submit(_ transaction: TransactionRecord, announced: Bool) -> Ticket {
        Ticket(writer: writer, waiter: writer.enqueue(.record(transaction), request: true, announced: announced))
    }

    /// Queues a transaction and its recipients to be inserted now and committed later, when
    /// its commit is asked for (``Ticket/requestCommit(announced:)``): the insert's work is
    /// done while the caller goes on (the agent waits for the other deliveries about to link),
    /// and only the commit — the WAL's write and sync — is left once it asks. A staged record
    /// whose request never comes is committed after the staged limit (0.5 s by default) all
    /// the same. Until its commit it is not visible to readers.
    package func stage(_ transaction: TransactionRecord) -> Ticket {
        Ticket(writer: writer, waiter: writer.enqueue(.record(transaction), request: false, announced: false))
    }

    /// Says that `count` commit requests (submitted records, or staged records' requests) will
    /// come shortly — the agent's link gathering, as it lets a group of deliveries go: a commit
    /// starting meanwhile waits a little for them, so that their records share one sync.
    package func announce(_ count: Int = 1) {
        writer.announce(count)
    }

    /// Takes back one request of an ``announce(_:)`` that will not be made.
    package func withdraw() {
        writer.withdraw()
    }

    /// Remembers a response a Sieve script had sent (a vacation reply, a redirect) until it
    /// expires; returns once committed. It blocks the calling thread: call it where blocking is
    /// expected.
    public func remember(_ response: SieveResponse) throws {
        _ = try writer.enqueue(.remember(response), request: true, announced: false).wait()
    }

    /// Whether a response of `kind` with `key` was sent for `recipient` and has not expired by
    /// `now` (see ``remember(_:)``). One read, blocking the calling thread.
    public func hasResponded(recipient: String, kind: SieveResponse.Kind, key: String, now: Date = Date()) throws -> Bool {
        try engine.responded(recipient: recipient, kind: kind, key: key, now: now)
    }

    /// Rewrites the outcome of recipients of a committed transaction whose delivery failed
    /// after the record was submitted (their copy could not be synced): `status`, reply and no
    /// file, so that the log says what the client was told. When its commit fails, the
    /// amendment is kept and made again with each later commit until one succeeds (and at
    /// ``close()``); the error is thrown all the same.
    public func amend(transaction id: Int64, recipients: [RecipientRecord]) throws {
        _ = try writer.enqueue(.amend(Amendment(transaction: id, recipients: recipients)), request: true, announced: false)
            .wait()
    }
}
