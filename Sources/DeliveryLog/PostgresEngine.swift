import Foundation
import Logging
import PostgresAccess
import PostgresNIO
import Synchronization

/// The delivery log on a PostgreSQL server, for several agents sharing one log.
///
/// A batch the group-commit writer gathers goes to the server as one statement, in one round
/// trip: PostgreSQL runs a lone statement as a transaction of its own, so all of the batch's
/// records are committed together or not at all, and `COMMIT` has returned — with the WAL
/// flushed when `synchronous_commit` is on — before any of their deliveries is acknowledged.
/// Amendments (rare: a copy whose directory sync failed) go in an explicit transaction of
/// their own. The duplicate check and the queries read through a second connection.
final class PostgresEngine: DeliveryLogEngine {
    let location: PostgresLocation
    private let logger: Logger
    /// The writer's connection, used by the log's one writer only.
    private let writer: PostgresConnectionSlot
    /// Reads: the duplicate check (from the disk threads) and the queries.
    private let reader: PostgresConnectionSlot
    /// The operations of the open transaction, sent at ``commit()``. Only the writer touches
    /// it, one call at a time; the lock makes that visible to the compiler.
    private let pending = Mutex<[LogOperation]>([])
    let queries: any DeliveryLogQueries

    /// Whether the server's schema is known to be this binary's (checked, and migrated if
    /// need be, on the first connection that answered).
    private let schemaReady = Mutex(false)
    /// Why the server could not be used at start, if it could not: serve starts all the same,
    /// and its recipients get 451 until the server answers.
    private let startFailure: PostgresFailure?

    /// Connects to the server at `location` and migrates its schema (under an advisory lock,
    /// so agents starting at once do not both migrate). Blocks the calling thread. A server
    /// that cannot be reached (down, refusing the password) is not an error here: the first
    /// use that reaches it later does the check and the migration. A database holding a newer
    /// letterbox's schema is refused.
    init(location: PostgresLocation, logger: Logger = Logger(label: "letterbox.delivery-log")) throws {
        self.location = location
        self.logger = logger
        writer = PostgresConnectionSlot(location: location, logger: logger)
        reader = PostgresConnectionSlot(location: location, logger: logger)
        queries = PostgresQueries(slot: reader)
        do {
            try Self.migrate(on: writer, ready: schemaReady)
            startFailure = nil
        } catch let error as DeliveryLogError {
            writer.close()
            throw error
        } catch {
            startFailure = PostgresFailure(location, error)
        }
    }

    /// Checks (migrating if need be) the schema through `slot` unless that is done already.
    /// Each connection's first use may call it at once: the advisory lock orders them.
    private static func migrate(on slot: PostgresConnectionSlot, ready: borrowing Mutex<Bool>) throws {
        guard !ready.withLock({ $0 }) else { return }
        do {
            try PostgresSchema.migrate(try slot.open(), logger: slot.logger, location: slot.location)
        } catch let error as DeliveryLogError {
            throw error
        } catch {
            throw PostgresFailure(slot.location, error)
        }
        ready.withLock { $0 = true }
    }

    func begin() throws {
        pending.withLock { $0.removeAll() }
    }

    func apply(_ operations: [LogOperation]) throws {
        pending.withLock { $0 += operations }
    }

    func applyAtomically(_ amendments: [Amendment]) -> Bool {
        (try? Self.migrate(on: writer, ready: schemaReady)) != nil && (try? inTransaction { try amendments.forEach(amend) }) != nil
    }

    func commit() throws -> [Int64] {
        let operations = pending.withLock { operations in
            defer { operations.removeAll() }
            return operations
        }
        var records: [TransactionRecord] = []
        var amendments: [Amendment] = []
        var responses: [SieveResponse] = []
        for operation in operations {
            switch operation {
            case .record(let record): records.append(record)
            case .amend(let amendment): amendments.append(amendment)
            case .remember(let response): responses.append(response)
            }
        }
        try Self.migrate(on: writer, ready: schemaReady)
        var ids: [Int64] = []
        if amendments.isEmpty && responses.isEmpty {
            ids = try insert(records)
        } else {
            try inTransaction {
                ids = try insert(records)
                try amendments.forEach(amend)
                try responses.forEach(remember)
            }
        }
        var next = ids.makeIterator()
        return operations.compactMap { operation in
            switch operation {
            case .record: next.next()
            case .amend(let amendment): amendment.transaction
            case .remember: 0
            }
        }
    }

    func rollback() {
        pending.withLock { $0.removeAll() }
    }

    /// Runs `body` between `BEGIN` and `COMMIT` on the writer's connection (`ROLLBACK` when it
    /// throws).
    private func inTransaction(_ body: () throws -> Void) throws {
        _ = try writer.rows("BEGIN")
        do {
            try body()
            _ = try writer.rows("COMMIT")
        } catch {
            _ = try? writer.rows("ROLLBACK")
            throw error
        }
    }

    /// Inserts `records` with one statement (its own transaction outside ``inTransaction(_:)``)
    /// and returns their transaction ids, in order. Columns that may be absent travel as empty
    /// text and are stored as NULL.
    private func insert(_ records: [TransactionRecord]) throws -> [Int64] {
        guard !records.isEmpty else { return [] }
        var ord: [Int64] = [], session: [String] = [], time: [String] = [], client: [String] = [], helo: [String] = []
        var sender: [String] = [], size: [Int64] = [], messageID: [String] = [], hash: [String] = [], host: [String] = []
        var recipientOrd: [Int64] = [], recipient: [String] = [], original: [String] = [], mailbox: [String] = []
        var folder: [String] = [], file: [String] = [], status: [String] = [], code: [Int64] = []
        var enhanced: [String] = [], text: [String] = [], duration: [Double] = [], sieve: [String] = []
        var copies: [String] = []
        for (index, record) in records.enumerated() {
            ord.append(Int64(index))
            session.append(record.sessionID)
            time.append(Timestamp.format(record.time))
            client.append(record.clientAddress ?? "")
            helo.append(record.helo ?? "")
            sender.append(record.sender)
            size.append(Int64(record.size))
            messageID.append(record.messageID ?? "")
            hash.append(record.bodySHA256 ?? "")
            host.append(record.host ?? "")
            for row in record.recipients {
                recipientOrd.append(Int64(index))
                recipient.append(row.recipient)
                original.append(row.originalRecipient ?? "")
                mailbox.append(row.mailbox ?? "")
                folder.append(row.folder ?? "")
                file.append(row.file ?? "")
                status.append(row.status.rawValue)
                code.append(Int64(row.code))
                enhanced.append(row.enhancedCode)
                text.append(row.text)
                duration.append(row.duration)
                sieve.append(row.sieve ?? "")
                copies.append(row.copies.joined(separator: "\n"))
            }
        }
        // The statement is prepared once per connection: each batch only binds its arrays.
        func texts(_ values: [String]) -> PostgresData {
            PostgresData(array: values.map { PostgresData(string: $0) }, elementType: .text)
        }
        func integers(_ values: [Int64]) -> PostgresData {
            PostgresData(array: values.map { PostgresData(int64: $0) }, elementType: .int8)
        }
        let binds = [integers(ord), integers(size), texts(session), texts(time), texts(client), texts(helo), texts(sender),
                     texts(messageID), texts(hash), integers(recipientOrd), texts(recipient), texts(original), texts(mailbox),
                     texts(folder), texts(file), texts(status), integers(code), texts(enhanced), texts(text),
                     PostgresData(array: duration.map { PostgresData(double: $0) }, elementType: .float8), texts(host),
                     texts(sieve), texts(copies)]
        let rows = try writer.preparedRows(Self.insertSQL, binds)
        return try rows.map { row in
            // The ids come back as text: a statement prepared through postgres-nio's
            // PreparedQuery gets binary results labelled as text, which its Int64 decoding
            // refuses, while a text value's bytes are the same in both formats.
            guard let id = Int64(try row.decode(String.self)) else { throw PostgresEngineError.missingID }
            return id
        }
    }

    /// One statement for a batch: the transactions get their ids from the sequence first, so
    /// that each recipient row can name its transaction and the ids come back in input order.
    private static let insertSQL = """
        WITH input AS MATERIALIZED (
            SELECT nextval(pg_get_serial_sequence('transactions', 'id')) AS id, t.*
            FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                        $8::text[], $9::text[], $21::text[])
                AS t(ord, size, session_id, time, client_address, helo, sender, message_id, body_sha256, host)
        ), new_transactions AS (
            INSERT INTO transactions (id, session_id, time, client_address, helo, sender, size, message_id, body_sha256,
                                      host)
            SELECT id, session_id, time, NULLIF(client_address, ''), NULLIF(helo, ''), sender, size,
                   NULLIF(message_id, ''), NULLIF(body_sha256, ''), NULLIF(host, '')
            FROM input ORDER BY ord
        ), new_deliveries AS (
            INSERT INTO deliveries (transaction_id, time, recipient, original_recipient, mailbox, folder, file,
                                    status, code, enhanced_code, text, duration, sieve, copies)
            SELECT input.id, input.time, r.recipient, NULLIF(r.original_recipient, ''), NULLIF(r.mailbox, ''),
                   NULLIF(r.folder, ''), NULLIF(r.file, ''), r.status, r.code, r.enhanced_code, r.text, r.duration,
                   NULLIF(r.sieve, ''), NULLIF(r.copies, '')
            FROM unnest($10::bigint[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
                        $17::bigint[], $18::text[], $19::text[], $20::float8[], $22::text[], $23::text[]) WITH ORDINALITY
                AS r(ord, recipient, original_recipient, mailbox, folder, file, status, code, enhanced_code, text,
                     duration, sieve, copies, position)
            JOIN input ON input.ord = r.ord
            ORDER BY r.position
        )
        SELECT id::text FROM input ORDER BY ord
        """

    /// Rewrites recipients of a committed transaction (see ``Amendment``).
    private func amend(_ amendment: Amendment) throws {
        for recipient in amendment.recipients {
            _ = try writer.rows("""
                UPDATE deliveries SET status = \(recipient.status.rawValue), code = \(Int64(recipient.code)),
                    enhanced_code = \(recipient.enhancedCode), text = \(recipient.text), file = NULL, folder = NULL,
                    copies = NULL
                WHERE transaction_id = \(amendment.transaction) AND recipient = \(recipient.recipient)
                """)
        }
    }

    /// Remembers a Sieve response, replacing an earlier one with the same key.
    private func remember(_ response: SieveResponse) throws {
        _ = try writer.rows("""
            INSERT INTO sieve_responses (recipient, kind, key, address, expires)
            VALUES (\(response.recipient), \(response.kind.rawValue), \(response.key), \(response.address),
                    \(Timestamp.format(response.expires)))
            ON CONFLICT (recipient, kind, key) DO UPDATE SET address = excluded.address, expires = excluded.expires
            """)
    }

    func responded(recipient: String, kind: SieveResponse.Kind, key: String, now: Date) throws -> Bool {
        try Self.migrate(on: reader, ready: schemaReady)
        let rows = try reader.rows("""
            SELECT EXISTS (SELECT 1 FROM sieve_responses
                           WHERE recipient = \(recipient) AND kind = \(kind.rawValue) AND key = \(key)
                             AND expires > \(Timestamp.format(now)))
            """)
        return try rows.first?.decode(Bool.self) ?? false
    }

    func deliveredCopies(messageID: String, bodySHA256: String, since: Date) throws -> DeliveredCopies {
        try startDeliveredCopies(messageID: messageID, bodySHA256: bodySHA256, since: since).wait()
    }

    /// The query leaves now; its rows are read when the lookup is waited for.
    func startDeliveredCopies(messageID: String, bodySHA256: String, since: Date) -> CopiesLookup {
        let sent: Result<EventLoopFuture<[PostgresRow]>, any Error> = Result {
            try Self.migrate(on: reader, ready: schemaReady)
            return try reader.startPrepared(Self.copiesSQL, [PostgresData(string: messageID), PostgresData(string: bodySHA256),
                                                             PostgresData(string: Timestamp.format(since))])
        }
        return CopiesLookup {
            var byRecipient: [String: [DeliveredCopies.Copy]] = [:]
            for row in try sent.get().wait() {
                let (recipient, mailbox, file) = try row.decode((String, String, String).self)
                byRecipient[recipient, default: []].append(.init(mailbox: mailbox, file: file))
            }
            return DeliveredCopies(byRecipient: byRecipient)
        }
    }

    /// The duplicate check's query, prepared once per connection: it runs for every message.
    private static let copiesSQL = """
        SELECT d.recipient, d.mailbox, d.file FROM transactions t JOIN deliveries d ON d.transaction_id = t.id
        WHERE t.message_id = $1 AND t.body_sha256 = $2 AND d.time >= $3
          AND d.status = 'delivered' AND d.mailbox IS NOT NULL AND d.file IS NOT NULL
        """

    /// Whether the server makes a commit durable before it returns: `synchronous_commit` is
    /// anything but `off` (`local` and above flush the server's own WAL first).
    var syncsEveryCommit: Bool {
        get throws { try synchronousCommit() != "off" }
    }

    /// The server's `synchronous_commit` for this connection.
    private func synchronousCommit() throws -> String {
        try writer.rows("SHOW synchronous_commit").first?.decode(String.self) ?? "on"
    }

    /// The server and its `synchronous_commit`, as `serve` reports them at start: `off` is
    /// accepted (it is the server's administrator's choice) and said plainly.
    var summary: String {
        if let startFailure {
            return "\(startFailure); recipients get 451 4.3.0 until it answers"
        }
        do {
            let setting = try synchronousCommit()
            let meaning = setting == "off"
                ? "commits are not durable when acknowledged: a server crash may lose the last ones"
                : "every commit durable on the server before a 250"
            return "PostgreSQL \(location), synchronous_commit = \(setting): \(meaning)"
        } catch {
            return "PostgreSQL \(location) (synchronous_commit could not be read: \(error))"
        }
    }

    /// The queries of a PostgreSQL log for `letterbox deliveries`, after checking that its
    /// schema is this binary's; nothing is created or migrated.
    static func openQueries(location: PostgresLocation, logger: Logger = Logger(label: "letterbox.delivery-log")) throws
        -> PostgresQueries {
        let slot = PostgresConnectionSlot(location: location, logger: logger)
        let applied = try PostgresSchema.appliedIdentifiers(try slot.open(), logger: logger)
        let known = PostgresSchema.migrations.map(\.identifier)
        if let mismatch = DeliveryLogError.schemaMismatch(applied: applied, hasUnknown: !applied.isSubset(of: Set(known)),
                                                          known: known, at: location.description) {
            slot.close()
            throw mismatch
        }
        return PostgresQueries(slot: slot)
    }

    func close() throws {
        reader.close()
        writer.close()
    }
}

/// What the PostgreSQL engine itself can find wrong with the server's answer.
enum PostgresEngineError: Error, CustomStringConvertible {
    /// A batch's insert did not give back a transaction id.
    case missingID

    var description: String {
        switch self {
        case .missingID: "the server's answer to a batch's insert has no transaction id"
        }
    }
}
