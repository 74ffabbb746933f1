import CFileSystem
import Foundation
import GRDB
import Synchronization

/// The delivery log in one SQLite file (GRDB, WAL mode): the embedded default engine.
///
/// The writer's transactions run on the pool's writing connection (`BEGIN IMMEDIATE` …
/// `COMMIT`, left open between the writer's turns); the duplicate check reads through
/// ``DuplicateReaders``, and the queries through the pool's read connections.
final class SQLiteEngine: DeliveryLogEngine {
    let database: DatabasePool
    /// The duplicate check's own read connections.
    private let readers: DuplicateReaders
    let queries: any DeliveryLogQueries
    /// The ids of the operations applied in the open transaction, for ``commit()``. Only the
    /// writer touches it, one call at a time; the lock makes that visible to the compiler.
    private let applied = Mutex<[Int64]>([])

    /// Opens (creating and migrating as needed) the log at `path`. With `durable`, every
    /// commit is synced to disk (`synchronous = FULL`); without, a crash may lose the last
    /// ones. `busyTimeout` is how long a write waits for another process holding the lock.
    init(path: String, durable: Bool, busyTimeout: TimeInterval) throws {
        readers = DuplicateReaders(path: path, busyTimeout: busyTimeout)
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(busyTimeout)
        // The writer keeps its transaction open between its turns on the connection (staged
        // records are inserted as they come and committed when asked for).
        configuration.allowsUnsafeTransactions = true
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA cache_size = -512")
        }
        database = try DatabasePool(path: path, configuration: configuration)
        queries = SQLiteQueries(database: database)
        // Set here, on the writing connection once the pool is open: GRDB turns WAL on after a
        // connection's preparation and sets `synchronous = NORMAL` as it does, which syncs the
        // WAL only at checkpoints, so a commit made after the last one could be lost to a
        // power failure although it had returned. The WAL is cut back to
        // ``DeliveryLog/walSizeLimit`` whenever it starts again from its beginning.
        try database.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = \(durable ? "FULL" : "NORMAL")")
            try db.execute(sql: "PRAGMA journal_size_limit = \(DeliveryLog.walSizeLimit)")
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

    /// Nothing yet: the transaction begins in the same turn on the writing connection as its
    /// first operation (``beginIfNeeded(_:)``), so a batch costs one turn, not two.
    func begin() throws {}

    /// `BEGIN IMMEDIATE` (the write lock at once, not at the first write), unless the writer's
    /// transaction is open already.
    private func beginIfNeeded(_ db: Database) throws {
        if !db.isInsideTransaction { try db.execute(sql: "BEGIN IMMEDIATE") }
    }

    func apply(_ operations: [LogOperation]) throws {
        let ids = try database.writeWithoutTransaction { db in
            try beginIfNeeded(db)
            return try operations.map { operation in
                switch operation {
                case .record(let record): return try DeliveryStatements.insert(record, db)
                case .amend(let amendment): try DeliveryStatements.amend(amendment, db); return amendment.transaction
                case .remember(let response): try DeliveryStatements.remember(response, db); return 0
                }
            }
        }
        applied.withLock { $0 += ids }
    }

    func applyAtomically(_ amendments: [Amendment]) -> Bool {
        (try? database.writeWithoutTransaction { db in
            try beginIfNeeded(db)
            try db.execute(sql: "SAVEPOINT amendments")
            do {
                for amendment in amendments { try DeliveryStatements.amend(amendment, db) }
                try db.execute(sql: "RELEASE amendments")
                return true
            } catch {
                try db.execute(sql: "ROLLBACK TO amendments")
                try db.execute(sql: "RELEASE amendments")
                return false
            }
        }) ?? false
    }

    func commit() throws -> [Int64] {
        try database.writeWithoutTransaction { db in try db.execute(sql: "COMMIT") }
        return applied.withLock { ids in
            defer { ids.removeAll(keepingCapacity: true) }
            return ids
        }
    }

    func rollback() {
        applied.withLock { $0.removeAll(keepingCapacity: true) }
        try? database.writeWithoutTransaction { db in if db.isInsideTransaction { try db.execute(sql: "ROLLBACK") } }
    }

    func deliveredCopies(messageID: String, bodySHA256: String, since: Date) throws -> DeliveredCopies {
        let since = Timestamp.format(since)
        // One SELECT reads one consistent snapshot by itself: no BEGIN/COMMIT around it. It
        // starts from the few transactions with this Message-ID (its index), never from every
        // delivery of a busy recipient: the unary `+` in the query keeps SQLite's planner off
        // the time index, which made each check scan the whole window.
        let rows = try readers.withConnection { connection in
            try connection.copies(messageID: messageID, bodySHA256: bodySHA256, since: since)
        }
        var byRecipient: [String: [DeliveredCopies.Copy]] = [:]
        for row in rows { byRecipient[row.recipient, default: []].append(.init(mailbox: row.mailbox, file: row.file)) }
        return DeliveredCopies(byRecipient: byRecipient)
    }

    func responded(recipient: String, kind: SieveResponse.Kind, key: String, now: Date) throws -> Bool {
        try database.read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM sieve_responses WHERE recipient = ? AND kind = ? AND key = ? AND expires > ?)
                """, arguments: [recipient, kind.rawValue, key, Timestamp.format(now)]) ?? false
        }
    }

    /// Whether `synchronous` is FULL or EXTRA on the connection that writes.
    var syncsEveryCommit: Bool {
        get throws {
            try database.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? 0 } >= 2
        }
    }

    var summary: String {
        switch Result(catching: { try syncsEveryCommit }) {
        case .success(true): "SQLite, every commit synced to disk"
        case .success(false): "SQLite, commits not synced (a power failure may lose the last ones)"
        case .failure(let error): "SQLite (its sync setting could not be read: \(error))"
        }
    }

    /// Closes the duplicate check's connections, the read connections and the writing
    /// connection last — the last to close checkpoints the WAL and, when no other process has
    /// the log open, removes it.
    func close() throws {
        readers.close()
        database.releaseMemory()   // closes the pool's read connections
        try database.close()
    }

    /// The log at `path`, opened read-only (`SQLITE_OPEN_READONLY`) for its queries, after
    /// checking that its schema is this binary's. It runs no migration, changes no journal mode
    /// or attribute, and never checkpoints or deletes the WAL when it closes.
    static func openReadOnly(path: String, busyTimeout: TimeInterval) throws -> SQLiteQueries {
        guard FileManager.default.fileExists(atPath: path) else { throw DeliveryLogError.missing(path: path) }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyTimeout)
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw openingError(error, path: path)
        }
        let migrator = DeliveryLogSchema.migrator
        let applied: Set<String>, superseded: Bool
        do {
            (applied, superseded) = try queue.read { db in
                (try migrator.appliedIdentifiers(db), try migrator.hasBeenSuperseded(db))
            }
        } catch {
            throw openingError(error, path: path)
        }
        if let mismatch = DeliveryLogError.schemaMismatch(applied: applied, hasUnknown: superseded, known: migrator.migrations,
                                                          at: path) {
            throw mismatch
        }
        return SQLiteQueries(database: queue)
    }

    /// What an error of SQLite's while opening means to the operator.
    private static func openingError(_ error: any Error, path: String) -> DeliveryLogError {
        if let error = error as? DatabaseError {
            if error.resultCode == .SQLITE_NOTADB { return .notALog(path: path) }
            return .unreadable(path: path, reason: error.message ?? "SQLite error \(error.resultCode.rawValue)")
        }
        return .unreadable(path: path, reason: "\(error)")
    }
}
