import Foundation
import PostgresAccess
import PostgresNIO

/// The queries of `letterbox deliveries` on a PostgreSQL log: the SQLite ones, in PostgreSQL's
/// dialect, giving the same values.
struct PostgresQueries: DeliveryLogQueries {
    let slot: PostgresConnectionSlot

    private static let selection = """
        SELECT d.id, d.time, d.recipient, d.original_recipient, t.sender, d.status, d.code::bigint, d.enhanced_code, d.text,
               d.mailbox, d.folder, d.file, t.size, t.message_id, t.session_id, t.client_address, t.helo, d.duration, t.host,
               d.sieve
        FROM deliveries d JOIN transactions t ON t.id = d.transaction_id
        """

    private static func delivery(_ row: PostgresRow) throws -> Delivery {
        let (id, time, recipient, original, sender, status, code, enhanced, text, mailbox, folder, file, size, messageID,
             sessionID, client, helo, duration, host, sieve) = try row.decode((Int64, String, String, String?, String, String, Int64,
                                                                                String, String, String?, String?, String?, Int64,
                                                                                String?, String, String?, String?, Double,
                                                                                String?, String?).self)
        return Delivery(id: id, time: time, recipient: recipient, originalRecipient: original, sender: sender,
                        status: DeliveryStatus(rawValue: status) ?? .failed, code: Int(code), enhancedCode: enhanced, text: text,
                        mailbox: mailbox, folder: folder, file: file, size: Int(size), messageID: messageID, sessionID: sessionID,
                        clientAddress: client, helo: helo, duration: duration, host: host, sieve: sieve)
    }

    func deliveries(matching filter: DeliveryFilter) async throws -> [Delivery] {
        var conditions: [String] = []
        var binds = PostgresBindings()
        func condition(_ sql: String, _ value: String) {
            binds.append(value)
            conditions.append(sql.replacingOccurrences(of: "?", with: "$\(binds.count)"))
        }
        if let recipient = filter.recipient { condition("d.recipient = ?", recipient.lowercased()) }
        if let sender = filter.sender { condition("lower(t.sender) = ?", sender.lowercased()) }
        if let status = filter.status { condition("d.status = ?", status.rawValue) }
        if let since = filter.since { condition("d.time >= ?", Timestamp.format(since)) }
        if let until = filter.until { condition("d.time < ?", Timestamp.format(until)) }
        if let messageID = filter.messageID { condition("t.message_id = ?", messageID) }
        if let host = filter.host { condition("t.host = ?", host) }
        var sql = Self.selection
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY d.id DESC"
        if let limit = filter.limit { sql += " LIMIT \(max(0, limit))" }
        return try await slot.rows(PostgresQuery(unsafeSQL: sql, binds: binds)).map(Self.delivery)
    }

    func delivery(id: Int64) async throws -> Delivery? {
        try await slot.rows(PostgresQuery(unsafeSQL: Self.selection + " WHERE d.id = $1", binds: Self.binds(id)))
            .first.map(Self.delivery)
    }

    func stats(since: Date?) async throws -> DeliveryStats {
        let since = since.map(Timestamp.format) ?? ""
        let counts = try await slot.rows("""
            SELECT COUNT(DISTINCT d.transaction_id), COUNT(*),
                   COUNT(*) FILTER (WHERE d.status = 'delivered'), COUNT(*) FILTER (WHERE d.status = 'failed'),
                   COUNT(*) FILTER (WHERE d.status = 'deferred'), COUNT(*) FILTER (WHERE d.status = 'duplicate'),
                   MIN(d.time), MAX(d.time)
            FROM deliveries d WHERE d.time >= \(since)
            """)
        let bytes = try await slot.rows("""
            SELECT COALESCE(SUM(t.size), 0)::bigint FROM transactions t
            WHERE t.time >= \(since) AND EXISTS (SELECT 1 FROM deliveries d WHERE d.transaction_id = t.id AND d.status = 'delivered')
            """).first?.decode(Int64.self) ?? 0
        guard let row = counts.first else {
            return DeliveryStats(transactions: 0, deliveries: 0, delivered: 0, failed: 0, deferred: 0, duplicate: 0, bytes: 0,
                                 first: nil, last: nil)
        }
        let (transactions, deliveries, delivered, failed, deferred, duplicate, first, last) =
            try row.decode((Int64, Int64, Int64, Int64, Int64, Int64, String?, String?).self)
        return DeliveryStats(transactions: Int(transactions), deliveries: Int(deliveries), delivered: Int(delivered),
                             failed: Int(failed), deferred: Int(deferred), duplicate: Int(duplicate), bytes: Int(bytes),
                             first: first, last: last)
    }

    func deliveredFiles() async throws -> [DeliveredFile] {
        try await slot.rows("""
            SELECT id, recipient, mailbox, folder, file, copies FROM deliveries
            WHERE status = 'delivered' AND mailbox IS NOT NULL AND file IS NOT NULL ORDER BY id
            """).map { row in
            let (id, recipient, mailbox, folder, file, copies) = try row.decode((Int64, String, String, String?, String, String?).self)
            var delivered = DeliveredFile(id: id, recipient: recipient, mailbox: mailbox, folder: folder, file: file)
            delivered.copies = copies.map { $0.split(separator: "\n").map(String.init) } ?? []
            return delivered
        }
    }

    /// PostgreSQL keeps its own pages sound; what it cannot know is whether letterbox's rows
    /// hold together: every row's transaction is there (the foreign key says so, unless it
    /// was dropped by hand) and every status is one letterbox writes.
    func integrityCheck() async throws -> [String] {
        var findings: [String] = []
        let orphans = try await slot.rows("""
            SELECT COUNT(*) FROM deliveries d LEFT JOIN transactions t ON t.id = d.transaction_id WHERE t.id IS NULL
            """).first?.decode(Int64.self) ?? 0
        if orphans > 0 { findings.append("\(orphans) deliveries without their transaction") }
        let unknown = try await slot.rows("""
            SELECT COUNT(*) FROM deliveries WHERE status NOT IN ('delivered', 'failed', 'deferred', 'duplicate')
            """).first?.decode(Int64.self) ?? 0
        if unknown > 0 { findings.append("\(unknown) deliveries with an unknown status") }
        return findings.isEmpty ? ["ok"] : findings
    }

    private static func binds(_ id: Int64) -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(id)
        return binds
    }
}
