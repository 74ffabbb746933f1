import GRDB

/// The log's tables, as a sequence of migrations: `serve` and `deliver` apply the ones a log
/// lacks when they open it for writing; readers (``DeliveryLogReader``) never migrate and
/// refuse a log whose migrations differ from this binary's.
enum DeliveryLogSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: transactions and deliveries") { db in
            try db.execute(sql: """
                CREATE TABLE transactions (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    session_id TEXT NOT NULL,
                    time TEXT NOT NULL,
                    client_address TEXT,
                    helo TEXT,
                    sender TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    message_id TEXT,
                    body_sha256 TEXT
                );
                CREATE TABLE deliveries (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    transaction_id INTEGER NOT NULL REFERENCES transactions(id) ON DELETE CASCADE,
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
                    duration REAL NOT NULL
                );
                CREATE INDEX deliveries_transaction ON deliveries(transaction_id);
                CREATE INDEX deliveries_recipient_time ON deliveries(recipient, time);
                CREATE INDEX deliveries_time ON deliveries(time);
                CREATE INDEX transactions_message_id ON transactions(message_id);
                """)
        }
        // The same tables, cheaper to insert into: without AUTOINCREMENT (which read and
        // rewrote sqlite_sequence's row for every insert; ids still only grow, since letterbox
        // never deletes rows and pruning by hand deletes the oldest) and with the status CHECK as
        // comparisons (an IN list made SQLite build a temporary table of the four values for
        // every row); docs/performance.md has what it saved. Rows and ids are copied as they are; foreign keys
        // are off while a GRDB migration runs and checked before it commits. The columns are
        // spelled out again on purpose: a migration is history, and v1's text must stay what
        // existing logs ran even if a later one changes the tables.
        migrator.registerMigration("v2: no AUTOINCREMENT, status CHECK without IN") { db in
            try db.execute(sql: """
                CREATE TABLE transactions_v2 (
                    id INTEGER PRIMARY KEY,
                    session_id TEXT NOT NULL,
                    time TEXT NOT NULL,
                    client_address TEXT,
                    helo TEXT,
                    sender TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    message_id TEXT,
                    body_sha256 TEXT
                );
                INSERT INTO transactions_v2 (id, session_id, time, client_address, helo, sender, size, message_id, body_sha256)
                    SELECT id, session_id, time, client_address, helo, sender, size, message_id, body_sha256 FROM transactions;
                CREATE TABLE deliveries_v2 (
                    id INTEGER PRIMARY KEY,
                    transaction_id INTEGER NOT NULL REFERENCES transactions(id) ON DELETE CASCADE,
                    time TEXT NOT NULL,
                    recipient TEXT NOT NULL,
                    original_recipient TEXT,
                    mailbox TEXT,
                    folder TEXT,
                    file TEXT,
                    status TEXT NOT NULL
                        CHECK (status = 'delivered' OR status = 'failed' OR status = 'deferred' OR status = 'duplicate'),
                    code INTEGER NOT NULL,
                    enhanced_code TEXT NOT NULL,
                    text TEXT NOT NULL,
                    duration REAL NOT NULL
                );
                INSERT INTO deliveries_v2 (id, transaction_id, time, recipient, original_recipient, mailbox, folder, file,
                                           status, code, enhanced_code, text, duration)
                    SELECT id, transaction_id, time, recipient, original_recipient, mailbox, folder, file,
                           status, code, enhanced_code, text, duration FROM deliveries;
                DROP TABLE deliveries;
                DROP TABLE transactions;
                ALTER TABLE transactions_v2 RENAME TO transactions;
                ALTER TABLE deliveries_v2 RENAME TO deliveries;
                CREATE INDEX deliveries_transaction ON deliveries(transaction_id);
                CREATE INDEX deliveries_recipient_time ON deliveries(recipient, time);
                CREATE INDEX deliveries_time ON deliveries(time);
                CREATE INDEX transactions_message_id ON transactions(message_id);
                """)
        }
        // Several agents may share a log (on PostgreSQL, whose schema has the same column):
        // each transaction says which agent (its --hostname) took it. Rows from before have none.
        migrator.registerMigration("v3: the agent's host") { db in
            try db.execute(sql: "ALTER TABLE transactions ADD COLUMN host TEXT")
        }
        // What each recipient's Sieve scripts did; rows from before, and recipients without a
        // script, have none.
        migrator.registerMigration("v4: the Sieve outcome") { db in
            try db.execute(sql: "ALTER TABLE deliveries ADD COLUMN sieve TEXT")
        }
        // The vacation replies and redirects sent for recipients, until they expire
        // (SieveResponse). `expires` is RFC 3339 text in UTC like every time here, so that
        // text order is time order. And a recipient's other copies of its file (the folders
        // its Sieve scripts filed it into besides the first), one Maildir per line.
        migrator.registerMigration("v5: Sieve responses and copies") { db in
            try db.execute(sql: """
                ALTER TABLE deliveries ADD COLUMN copies TEXT;
                CREATE TABLE sieve_responses (
                    recipient TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    key TEXT NOT NULL,
                    address TEXT NOT NULL,
                    expires TEXT NOT NULL,
                    PRIMARY KEY (recipient, kind, key)
                ) WITHOUT ROWID;
                CREATE INDEX sieve_responses_expires ON sieve_responses(expires);
                """)
        }
        return migrator
    }
}
