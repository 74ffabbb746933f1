import Foundation
import GRDB

/// What `letterbox deliveries list` asks for.
public struct DeliveryFilter: Sendable, Hashable {
    public var recipient: String?
    public var sender: String?
    public var status: DeliveryStatus?
    public var since: Date?
    public var until: Date?
    public var messageID: String?
    /// The agent that took the transaction (its `--hostname`).
    public var host: String?
    public var limit: Int?

    public init(recipient: String? = nil, sender: String? = nil, status: DeliveryStatus? = nil, since: Date? = nil,
                until: Date? = nil, messageID: String? = nil, host: String? = nil, limit: Int? = nil) {
        self.recipient = recipient
        self.sender = sender
        self.status = status
        self.since = since
        self.until = until
        self.messageID = messageID
        self.host = host
        self.limit = limit
    }
}

/// Counts for `letterbox deliveries stats`.
public struct DeliveryStats: Sendable, Hashable, Codable {
    public var transactions: Int
    public var deliveries: Int
    public var delivered: Int
    public var failed: Int
    public var deferred: Int
    public var duplicate: Int
    /// Octets stored by delivered transactions.
    public var bytes: Int
    /// The first and last transaction's time; `null` in JSON for an empty log.
    @NullWhenAbsent public var first: String?
    @NullWhenAbsent public var last: String?
}

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
    /// The other Maildirs holding the same file (its Sieve scripts stored it more than once).
    public var copies: [String] = []

    /// The directory holding `new/` and `cur/` for this file.
    public var maildir: String { mailbox }
}
