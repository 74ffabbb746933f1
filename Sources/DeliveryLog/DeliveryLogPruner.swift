import Foundation
import GRDB
import Logging
import PostgresAccess
import PostgresNIO

/// Removes old rows from a delivery log (`letterbox deliveries prune`, and `serve`'s
/// `retention`): the oldest transactions with their deliveries, in short batches of their own
/// so that the agent's commits never wait long behind one.
///
/// A batch takes the transactions in id order (the order they were committed) from the oldest,
/// as long as each is older than the cutoff, and deletes their deliveries first, then them
/// (the deliveries' foreign key). The newest transaction is always kept, so that ids keep
/// growing (a SQLite log reuses the highest id once it is gone). Pruning stops at the first
/// transaction that is not old enough: a row committed late with an older time (another host's
/// clock) waits for the next run.
public final class DeliveryLogPruner: Sendable {
    private let store: any PruneStore
    /// The log, as messages name it.
    public let location: String

    /// Opens the log at `location` (a SQLite path or a PostgreSQL URL) for pruning, after
    /// checking that its schema is this binary's; nothing is created or migrated.
    public init(location: String) throws {
        if PostgresLocation.isURL(location) {
            let server = try PostgresLocation(url: location)
            self.location = server.description
            store = PostgresPruneStore(queries: try PostgresEngine.openQueries(location: server))
        } else {
            self.location = location
            store = try SQLitePruneStore(path: location)
        }
    }

    /// Deletes one batch of at most `limit` transactions older than `cutoff`: how many went.
    public func pruneBatch(before cutoff: Date, limit: Int = 500) async throws -> Int {
        try await store.pruneBatch(before: Timestamp.format(cutoff), limit: limit)
    }

    /// Deletes every transaction older than `cutoff` (the newest excepted), batch after batch;
    /// `progress` is told the running total after each. Returns the total.
    public func prune(before cutoff: Date, batch: Int = 500, progress: (Int) -> Void = { _ in }) async throws -> Int {
        var total = 0
        while true {
            let removed = try await pruneBatch(before: cutoff, limit: batch)
            total += removed
            if removed > 0 { progress(total) }
            if removed < batch { return total }
        }
    }

    /// Closes the connection.
    public func close() {
        store.close()
    }

    /// From the oldest `candidates` (id, time), in id order, the last id of the run that is
    /// older than `cutoff` and below `newest`.
    static func lastPrunable(_ candidates: [(id: Int64, time: String)], cutoff: String, newest: Int64) -> Int64? {
        var last: Int64?
        for candidate in candidates {
            guard candidate.time < cutoff, candidate.id < newest else { break }
            last = candidate.id
        }
        return last
    }
}

/// One engine's batch.
private protocol PruneStore: Sendable {
    func pruneBatch(before cutoff: String, limit: Int) async throws -> Int
    func close()
}

/// A SQLite log, written through a connection of its own (never a descriptor opened beside
/// SQLite's: closing it would drop SQLite's locks, docs/delivery-log.md).
private struct SQLitePruneStore: PruneStore {
    let queue: DatabaseQueue

    init(path: String) throws {
        _ = try SQLiteEngine.openReadOnly(path: path, busyTimeout: 5)   // exists, and is this binary's schema
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.foreignKeysEnabled = true
        queue = try DatabaseQueue(path: path, configuration: configuration)
    }

    func pruneBatch(before cutoff: String, limit: Int) async throws -> Int {
        try await queue.write { db in
            // Sieve responses go when they expire, whatever the cutoff.
            try db.execute(sql: "DELETE FROM sieve_responses WHERE expires <= ?", arguments: [Timestamp.format(Date())])
            let rows = try Row.fetchAll(db, sql: "SELECT id, time FROM transactions ORDER BY id LIMIT ?", arguments: [limit])
            guard let newest = try Int64.fetchOne(db, sql: "SELECT max(id) FROM transactions"),
                  let first = rows.first.map({ $0["id"] as Int64 }),
                  let last = DeliveryLogPruner.lastPrunable(rows.map { ($0["id"], $0["time"]) }, cutoff: cutoff, newest: newest)
            else { return 0 }
            try db.execute(sql: "DELETE FROM deliveries WHERE transaction_id BETWEEN ? AND ?", arguments: [first, last])
            try db.execute(sql: "DELETE FROM transactions WHERE id BETWEEN ? AND ?", arguments: [first, last])
            return db.changesCount
        }
    }

    func close() {
        try? queue.close()
    }
}

/// A PostgreSQL log: each batch one transaction on the reader's connection.
private struct PostgresPruneStore: PruneStore {
    let queries: PostgresQueries

    func pruneBatch(before cutoff: String, limit: Int) async throws -> Int {
        let slot = queries.slot
        _ = try await slot.rows("BEGIN")
        do {
            // Sieve responses go when they expire, whatever the cutoff.
            _ = try await slot.rows("DELETE FROM sieve_responses WHERE expires <= \(Timestamp.format(Date()))")
            let rows = try await slot.rows("SELECT id, time FROM transactions ORDER BY id LIMIT \(Int64(limit)) FOR UPDATE")
            let candidates = try rows.map { row in try row.decode((Int64, String).self) }
            let newest = try await slot.rows("SELECT coalesce(max(id), 0) FROM transactions").first?.decode(Int64.self) ?? 0
            guard let first = candidates.first?.0,
                  let last = DeliveryLogPruner.lastPrunable(candidates.map { ($0.0, $0.1) }, cutoff: cutoff, newest: newest) else {
                _ = try await slot.rows("ROLLBACK")
                return 0
            }
            _ = try await slot.rows("DELETE FROM deliveries WHERE transaction_id BETWEEN \(first) AND \(last)")
            let removed = try await slot.rows("DELETE FROM transactions WHERE id BETWEEN \(first) AND \(last) RETURNING id").count
            _ = try await slot.rows("COMMIT")
            return removed
        } catch {
            _ = try? await slot.rows("ROLLBACK")
            throw error
        }
    }

    func close() {
        queries.slot.close()
    }
}
