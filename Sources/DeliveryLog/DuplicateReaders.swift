import Foundation
import GRDBSQLite

/// The connections the duplicate check reads with: plain SQLite connections to the log, each
/// with its one query prepared, taken by one thread at a time and put back after.
///
/// The check runs for every message, on the disk threads. GRDB's reader pool costs more than
/// the query itself there (dispatch queues, generic metadata looked up at run time, statement
/// and row wrappers); these connections skip all of it. They only ever read
/// (`PRAGMA query_only`), and WAL lets them do so while the writer commits.
final class DuplicateReaders: @unchecked Sendable {
    // @unchecked: `idle` is read and written only with `lock` held; a `Connection` is used by
    // the one thread that took it out of `idle`, until it puts it back.
    private let lock = NSLock()
    private var idle: [Connection] = []
    /// Set by ``close()``: no connection is made after it.
    private var closed = false
    private let path: String
    private let busyTimeout: TimeInterval
    /// At most this many connections exist (each holds its own copy of the schema and its
    /// page cache); a check beyond it waits for one to be put back, which takes microseconds.
    static let limit = 4
    private let available = DispatchSemaphore(value: DuplicateReaders.limit)

    static let query = """
        SELECT d.recipient, d.mailbox, d.file FROM transactions t JOIN deliveries d ON d.transaction_id = t.id
        WHERE t.message_id = ?1 AND t.body_sha256 = ?2
          AND +d.time >= ?3 AND d.status = 'delivered'
          AND d.mailbox IS NOT NULL AND d.file IS NOT NULL
        """

    /// Why a read failed: SQLite's result code and message.
    struct ReadError: Error, CustomStringConvertible {
        let code: Int32
        let message: String
        var description: String { "SQLite error \(code) in the duplicate check: \(message)" }
    }

    /// One connection and its prepared query.
    final class Connection {
        let database: OpaquePointer
        let statement: OpaquePointer

        init(path: String, busyTimeout: TimeInterval) throws {
            var database: OpaquePointer?
            let opened = sqlite3_open_v2(path, &database, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
            guard opened == SQLITE_OK, let database else {
                let message = database.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
                sqlite3_close_v2(database)
                throw ReadError(code: opened, message: message)
            }
            sqlite3_busy_timeout(database, Int32(busyTimeout * 1000))
            var statement: OpaquePointer?
            let prepared = sqlite3_exec(database, "PRAGMA query_only = 1; PRAGMA cache_size = -512", nil, nil, nil) == SQLITE_OK
                ? sqlite3_prepare_v3(database, DuplicateReaders.query, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
                : sqlite3_errcode(database)
            guard prepared == SQLITE_OK, let statement else {
                let error = ReadError(code: prepared, message: String(cString: sqlite3_errmsg(database)))
                sqlite3_close_v2(database)
                throw error
            }
            self.database = database
            self.statement = statement
        }

        deinit {
            sqlite3_finalize(statement)
            sqlite3_close_v2(database)
        }

        /// Every delivered copy the query finds.
        func copies(messageID: String, bodySHA256: String, since: String) throws
            -> [(recipient: String, mailbox: String, file: String)] {
            defer {
                sqlite3_reset(statement)
                sqlite3_clear_bindings(statement)
            }
            let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
            for (index, value) in [messageID, bodySHA256, since].enumerated() {
                let bound = sqlite3_bind_text(statement, Int32(index + 1), value, -1, transient)
                guard bound == SQLITE_OK else { throw ReadError(code: bound, message: String(cString: sqlite3_errmsg(database))) }
            }
            var found: [(recipient: String, mailbox: String, file: String)] = []
            while true {
                let stepped = sqlite3_step(statement)
                if stepped == SQLITE_DONE { return found }
                guard stepped == SQLITE_ROW else {
                    throw ReadError(code: stepped, message: String(cString: sqlite3_errmsg(database)))
                }
                guard let recipient = sqlite3_column_text(statement, 0), let mailbox = sqlite3_column_text(statement, 1),
                      let file = sqlite3_column_text(statement, 2) else { continue }
                found.append((String(cString: recipient), String(cString: mailbox), String(cString: file)))
            }
        }
    }

    init(path: String, busyTimeout: TimeInterval) {
        self.path = path
        self.busyTimeout = busyTimeout
    }

    /// Runs `body` with a connection of its own (an idle one, or a new one).
    func withConnection<T>(_ body: (Connection) throws -> T) throws -> T {
        available.wait()
        defer { available.signal() }
        lock.lock()
        let taken = idle.popLast()
        let isClosed = closed
        lock.unlock()
        if isClosed { throw ReadError(code: SQLITE_MISUSE, message: "the delivery log is closed") }
        let connection = try taken ?? Connection(path: path, busyTimeout: busyTimeout)
        defer {   // runs before the semaphore's signal above: the connection is idle again first
            lock.lock()
            idle.append(connection)
            lock.unlock()
        }
        return try body(connection)
    }

    /// Closes every connection, once none is in use (each check puts its connection back
    /// within microseconds); later checks fail.
    func close() {
        for _ in 0..<Self.limit { available.wait() }
        lock.lock()
        closed = true
        idle.removeAll()   // each closes in its deinit
        lock.unlock()
        for _ in 0..<Self.limit { available.signal() }
    }
}
