import Foundation

/// The storage beneath a delivery log: where its rows are kept and how they are read back.
///
/// Everything above it is the same whatever the engine: the group commit
/// (``GroupCommitWriter``) and its timing protocol, ``DeliveryLog`` and ``DeliveryLogReader``
/// that the agent and `letterbox deliveries` use. An engine provides transactions the writer
/// drives, the duplicate check's read, and the queries; SQLite (``SQLiteEngine``) is the first.
///
/// The writer's methods (``begin()`` to ``rollback()``) are called by the log's one writer
/// only, one call at a time, never concurrently with each other; the reads may come from any
/// thread at any time and see only committed rows.
package protocol DeliveryLogEngine: Sendable {
    /// Begins the transaction the next operations go into (an engine may open it with the
    /// first of them).
    func begin() throws

    /// Applies `operations` inside the open transaction: now (SQLite does the inserts' work
    /// while the agent goes on), or at ``commit()`` (an engine over a network sends a batch in
    /// one round trip).
    func apply(_ operations: [LogOperation]) throws

    /// Applies `amendments` inside the open transaction, all or none (a savepoint): whether
    /// they were made. When they fail, the transaction goes on without them.
    func applyAtomically(_ amendments: [Amendment]) -> Bool

    /// Commits the open transaction; returns the transaction id of every operation applied in
    /// it (the new transaction's for a record, the amended one's for an amendment), in order.
    /// It is durable when this returns if the engine syncs every commit (``syncsEveryCommit``).
    func commit() throws -> [Int64]

    /// Rolls the open transaction back, if one is open.
    func rollback()

    /// The delivered copies of the message with this Message-ID and body hash since `since`
    /// (the duplicate check): one read, blocking the calling thread.
    func deliveredCopies(messageID: String, bodySHA256: String, since: Date) throws -> DeliveredCopies

    /// ``deliveredCopies(messageID:bodySHA256:since:)`` started now and answered when its
    /// lookup's ``CopiesLookup/wait()`` is called: an engine over a network sends the query at
    /// once, so that its round trip overlaps the caller's other work; a local one reads then.
    func startDeliveredCopies(messageID: String, bodySHA256: String, since: Date) -> CopiesLookup

    /// Whether a response of `kind` with `key` was sent for `recipient` and is remembered
    /// after `now` (committed rows only): one read, blocking the calling thread.
    func responded(recipient: String, kind: SieveResponse.Kind, key: String, now: Date) throws -> Bool

    /// The queries of `letterbox deliveries`, over committed rows.
    var queries: any DeliveryLogQueries { get }

    /// Whether every commit is durable when it returns.
    var syncsEveryCommit: Bool { get throws }

    /// What keeps the log and whether its commits are durable, in words.
    var summary: String { get }

    /// Closes every connection; nothing is called after it.
    func close() throws
}

extension DeliveryLogEngine {
    func startDeliveredCopies(messageID: String, bodySHA256: String, since: Date) -> CopiesLookup {
        CopiesLookup { try deliveredCopies(messageID: messageID, bodySHA256: bodySHA256, since: since) }
    }
}

/// One entry of the writer's queue: what it does inside its transaction.
package enum LogOperation: Sendable {
    /// Inserts a transaction and its recipients.
    case record(TransactionRecord)
    /// Rewrites recipients of a committed transaction.
    case amend(Amendment)
    /// Remembers a Sieve response (replacing an earlier one with its key).
    case remember(SieveResponse)
}

/// New outcomes for recipients of a committed transaction whose delivery failed after its
/// record was handed over (their copy could not be synced): status, reply, and no file.
package struct Amendment: Sendable {
    /// The transaction's id.
    var transaction: Int64
    /// The recipients' records as they now stand (matched by ``RecipientRecord/recipient``).
    var recipients: [RecipientRecord]
}

/// The queries `letterbox deliveries list|show|stats|verify` ask, whatever stores the log.
public protocol DeliveryLogQueries: Sendable {
    /// The deliveries matching `filter`, newest first.
    func deliveries(matching filter: DeliveryFilter) async throws -> [Delivery]
    /// One delivery by id.
    func delivery(id: Int64) async throws -> Delivery?
    /// Counts since `since` (everything when `nil`).
    func stats(since: Date?) async throws -> DeliveryStats
    /// Every delivered row that names a file, oldest first: what `verify` checks against the
    /// Maildirs.
    func deliveredFiles() async throws -> [DeliveredFile]
    /// The engine's own consistency check: `["ok"]` for a sound store, else its findings.
    func integrityCheck() async throws -> [String]
}
