import GRDB

/// A message file the log says was delivered.
public struct DeliveredFile: Sendable, Hashable {
    /// The delivery's row id.
    public var id: Int64
    /// The recipient.
    public var recipient: String
    /// The path of the Maildir the file went to (a Maildir++ folder's own path when it went
    /// to one): the directory holding `new/` and `cur/`.
    public var mailbox: String
    /// The Maildir++ folder's name, if the message went to one.
    public var folder: String?
    /// The file's name as it was linked into `new/`.
    public var file: String

    /// The directory holding `new/` and `cur/` for this file.
    public var maildir: String { mailbox }
}

extension DeliveryLogReader {
    /// Every delivered row that names a file, oldest first: what `letterbox deliveries verify`
    /// checks against the Maildirs.
    public func deliveredFiles() async throws -> [DeliveredFile] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, recipient, mailbox, folder, file FROM deliveries
                WHERE status = 'delivered' AND mailbox IS NOT NULL AND file IS NOT NULL ORDER BY id
                """).map { DeliveredFile(id: $0[0], recipient: $0[1], mailbox: $0[2], folder: $0[3], file: $0[4]) }
        }
    }

    /// SQLite's `PRAGMA integrity_check`: `["ok"]` for a sound database, else its findings.
    public func integrityCheck() async throws -> [String] {
        try await database.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }
}
