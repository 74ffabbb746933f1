import Foundation
import GRDB

/// The queries of `letterbox deliveries` on a SQLite log, over the agent's read connections or
/// a read-only connection of the command's own.
struct SQLiteQueries: DeliveryLogQueries {
    let database: any DatabaseReader

    private static let selection = """
        SELECT d.id, d.time, d.recipient, d.original_recipient, t.sender, d.status, d.code, d.enhanced_code, d.text,
               d.mailbox, d.folder, d.file, t.size, t.message_id, t.session_id, t.client_address, t.helo, d.duration, t.host,
               d.sieve
        FROM deliveries d JOIN transactions t ON t.id = d.transaction_id
        """

    private static func delivery(_ row: Row) -> Delivery {
        Delivery(id: row[0], time: row[1], recipient: row[2], originalRecipient: row[3], sender: row[4],
                 status: DeliveryStatus(rawValue: row[5]) ?? .failed, code: row[6], enhancedCode: row[7], text: row[8],
                 mailbox: row[9], folder: row[10], file: row[11], size: row[12], messageID: row[13], sessionID: row[14],
                 clientAddress: row[15], helo: row[16], duration: row[17], host: row[18], sieve: row[19])
    }

    /// The deliveries matching `filter`, newest first.
    func deliveries(matching filter: DeliveryFilter) async throws -> [Delivery] {
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let recipient = filter.recipient { conditions.append("d.recipient = ?"); arguments.append(recipient.lowercased()) }
        if let sender = filter.sender { conditions.append("lower(t.sender) = ?"); arguments.append(sender.lowercased()) }
        if let status = filter.status { conditions.append("d.status = ?"); arguments.append(status.rawValue) }
        if let since = filter.since { conditions.append("d.time >= ?"); arguments.append(Timestamp.format(since)) }
        if let until = filter.until { conditions.append("d.time < ?"); arguments.append(Timestamp.format(until)) }
        if let messageID = filter.messageID { conditions.append("t.message_id = ?"); arguments.append(messageID) }
        if let host = filter.host { conditions.append("t.host = ?"); arguments.append(host) }
        var sql = Self.selection
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY d.id DESC"
        if let limit = filter.limit { sql += " LIMIT \(max(0, limit))" }
        let statementArguments = StatementArguments(arguments)
        let query = sql
        return try await database.read { db in
            try Row.fetchAll(db, sql: query, arguments: statementArguments).map(Self.delivery)
        }
    }

    /// One delivery by id.
    func delivery(id: Int64) async throws -> Delivery? {
        try await database.read { db in
            try Row.fetchOne(db, sql: Self.selection + " WHERE d.id = ?", arguments: [id]).map(Self.delivery)
        }
    }

    /// Counts since `since` (everything when `nil`).
    func stats(since: Date? = nil) async throws -> DeliveryStats {
        let since = since.map(Timestamp.format) ?? ""
        return try await database.read { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT COUNT(DISTINCT d.transaction_id), COUNT(*),
                       SUM(d.status = 'delivered'), SUM(d.status = 'failed'), SUM(d.status = 'deferred'),
                       SUM(d.status = 'duplicate'), MIN(d.time), MAX(d.time)
                FROM deliveries d WHERE d.time >= ?
                """, arguments: [since])
            let bytes = try Int.fetchOne(db, sql: """
                SELECT COALESCE(SUM(t.size), 0) FROM transactions t
                WHERE t.time >= ? AND EXISTS (SELECT 1 FROM deliveries d WHERE d.transaction_id = t.id AND d.status = 'delivered')
                """, arguments: [since]) ?? 0
            return DeliveryStats(transactions: row?[0] ?? 0, deliveries: row?[1] ?? 0, delivered: row?[2] ?? 0,
                                 failed: row?[3] ?? 0, deferred: row?[4] ?? 0, duplicate: row?[5] ?? 0, bytes: bytes,
                                 first: row?[6], last: row?[7])
        }
    }

    /// Every delivered row that names a file, oldest first: what `letterbox deliveries verify`
    /// checks against the Maildirs.
    func deliveredFiles() async throws -> [DeliveredFile] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, recipient, mailbox, folder, file, copies FROM deliveries
                WHERE status = 'delivered' AND mailbox IS NOT NULL AND file IS NOT NULL ORDER BY id
                """).map { row in
                var file = DeliveredFile(id: row[0], recipient: row[1], mailbox: row[2], folder: row[3], file: row[4])
                file.copies = (row[5] as String?).map { $0.split(separator: "\n").map(String.init) } ?? []
                return file
            }
        }
    }

    /// SQLite's `PRAGMA integrity_check`: `["ok"]` for a sound database, else its findings.
    func integrityCheck() async throws -> [String] {
        try await database.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }
}
