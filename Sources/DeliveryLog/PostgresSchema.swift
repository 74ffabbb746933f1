import Logging
import PostgresAccess
import PostgresNIO

/// The PostgreSQL log's tables, as a sequence of migrations named like the SQLite ones and
/// recorded in `letterbox_migrations`. The columns are those of the SQLite log, so that every
/// query and its JSON are the same on both; times are the same RFC 3339 UTC text, which sorts
/// as it compares.
enum PostgresSchema {
    /// A migration: its identifier and its statements, run in one transaction.
    struct Migration {
        var identifier: String
        var statements: [String]
    }

    static let migrations: [Migration] = [
        Migration(identifier: "v1: transactions and deliveries", statements: [
            """
            CREATE TABLE transactions (
                id BIGSERIAL PRIMARY KEY,
                session_id TEXT NOT NULL,
                time TEXT NOT NULL,
                client_address TEXT,
                helo TEXT,
                sender TEXT NOT NULL,
                size BIGINT NOT NULL,
                message_id TEXT,
                body_sha256 TEXT
            )
            """,
            """
            CREATE TABLE deliveries (
                id BIGSERIAL PRIMARY KEY,
                transaction_id BIGINT NOT NULL REFERENCES transactions(id) ON DELETE CASCADE,
                time TEXT NOT NULL,
                recipient TEXT NOT NULL,
                original_recipient TEXT,
                mailbox TEXT,
                folder TEXT,
                file TEXT,
                status TEXT NOT NULL CHECK (status IN ('delivered', 'failed', 'deferred', 'duplicate')),
                code INTEGER NOT NULL,
                enhanced_code TEXT NOT NULL,
                text TEXT NOT NULL,
                duration DOUBLE PRECISION NOT NULL
            )
            """,
            "CREATE INDEX deliveries_transaction ON deliveries(transaction_id)",
            "CREATE INDEX deliveries_recipient_time ON deliveries(recipient, time)",
            "CREATE INDEX deliveries_time ON deliveries(time)",
            "CREATE INDEX transactions_message_id ON transactions(message_id)",
        ]),
        // SQLite's v2 remade its tables into what v1 is here; there is nothing for it to do.
        Migration(identifier: "v3: the agent's host", statements: ["ALTER TABLE transactions ADD COLUMN host TEXT"]),
        Migration(identifier: "v4: the Sieve outcome", statements: ["ALTER TABLE deliveries ADD COLUMN sieve TEXT"]),
        Migration(identifier: "v5: Sieve responses and copies", statements: [
            "ALTER TABLE deliveries ADD COLUMN copies TEXT",
            """
            CREATE TABLE sieve_responses (
                recipient TEXT NOT NULL,
                kind TEXT NOT NULL,
                key TEXT NOT NULL,
                address TEXT NOT NULL,
                expires TEXT NOT NULL,
                PRIMARY KEY (recipient, kind, key)
            )
            """,
            "CREATE INDEX sieve_responses_expires ON sieve_responses(expires)",
        ]),
    ]

    /// The advisory lock (`pg_advisory_lock`) that makes agents starting at once migrate one
    /// after another: the second finds the work done.
    static let migrationLock: Int64 = 0x6C65_7474_6572_6278   // "letterbx"

    /// Applies the migrations the database lacks, under the advisory lock; refuses a database
    /// with migrations this binary does not know (a newer letterbox's). Blocks the calling
    /// thread, which must not be an event loop's.
    static func migrate(_ connection: PostgresConnection, logger: Logger, location: PostgresLocation) throws {
        _ = try connection.query("SELECT pg_advisory_lock(\(migrationLock))", logger: logger).wait()
        defer { _ = try? connection.query("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger).wait() }
        _ = try connection.query("""
            CREATE TABLE IF NOT EXISTS letterbox_migrations (identifier TEXT PRIMARY KEY, applied TEXT NOT NULL)
            """, logger: logger).wait()
        let applied = try appliedIdentifiers(connection, logger: logger)
        if !applied.isSubset(of: Set(migrations.map(\.identifier))) { throw DeliveryLogError.newerSchema(path: location.description) }
        for migration in migrations where !applied.contains(migration.identifier) {
            _ = try connection.query("BEGIN", logger: logger).wait()
            do {
                for statement in migration.statements {
                    _ = try connection.query(PostgresQuery(unsafeSQL: statement), logger: logger).wait()
                }
                let now = Timestamp.format(.now)
                _ = try connection.query(
                    "INSERT INTO letterbox_migrations (identifier, applied) VALUES (\(migration.identifier), \(now))",
                    logger: logger).wait()
                _ = try connection.query("COMMIT", logger: logger).wait()
            } catch {
                _ = try? connection.query("ROLLBACK", logger: logger).wait()
                throw error
            }
        }
    }

    /// The migrations a database has; empty when it has none (or no table for them).
    static func appliedIdentifiers(_ connection: PostgresConnection, logger: Logger) throws -> Set<String> {
        let exists = try connection.query("SELECT to_regclass('letterbox_migrations') IS NOT NULL", logger: logger).wait()
        guard try exists.rows.first?.decode(Bool.self) == true else { return [] }
        let rows = try connection.query("SELECT identifier FROM letterbox_migrations", logger: logger).wait().rows
        return Set(try rows.map { try $0.decode(String.self) })
    }
}
