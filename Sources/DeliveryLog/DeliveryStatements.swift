import GRDB

/// The SQLite log's writes, as SQL: inserting a transaction with its recipients, and rewriting
/// recipients' outcomes (an amendment).
enum DeliveryStatements {
    static func insert(_ record: TransactionRecord, _ db: Database) throws -> Int64 {
        let time = Timestamp.format(record.time)
        // Cached statements: the SQL is parsed once per connection, not once per row.
        try db.cachedStatement(sql: """
            INSERT INTO transactions (session_id, time, client_address, helo, sender, size, message_id, body_sha256, host)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [record.sessionID, time, record.clientAddress, record.helo, record.sender, record.size,
                             record.messageID, record.bodySHA256, record.host])
        let id = db.lastInsertedRowID
        for recipient in record.recipients {
            try db.cachedStatement(sql: """
                INSERT INTO deliveries (transaction_id, time, recipient, original_recipient, mailbox, folder, file,
                                        status, code, enhanced_code, text, duration, sieve, copies)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [id, time, recipient.recipient, recipient.originalRecipient, recipient.mailbox,
                                 recipient.folder, recipient.file, recipient.status.rawValue, recipient.code,
                                 recipient.enhancedCode, recipient.text, recipient.duration, recipient.sieve,
                                 recipient.copies.isEmpty ? nil : recipient.copies.joined(separator: "\n")])
        }
        return id
    }

    static func remember(_ response: SieveResponse, _ db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO sieve_responses (recipient, kind, key, address, expires) VALUES (?, ?, ?, ?, ?)
            """).execute(arguments: [response.recipient, response.kind.rawValue, response.key, response.address,
                             Timestamp.format(response.expires)])
    }

    static func amend(_ amendment: Amendment, _ db: Database) throws {
        for recipient in amendment.recipients {
            try db.execute(sql: """
                UPDATE deliveries SET status = ?, code = ?, enhanced_code = ?, text = ?, file = NULL, folder = NULL, copies = NULL
                WHERE transaction_id = ? AND recipient = ?
                """, arguments: [recipient.status.rawValue, recipient.code, recipient.enhancedCode, recipient.text,
                                 amendment.transaction, recipient.recipient])
        }
    }
}
