import Foundation
import PostgresAccess

/// Read-only access to a delivery log: what `letterbox deliveries list|show|stats|verify` open.
///
/// A SQLite log is opened read-only (`SQLITE_OPEN_READONLY`): it runs no migration, changes no
/// journal mode or attribute, and never checkpoints or deletes the WAL when it closes, so it
/// can run beside the agent, as any user who can read the files, without touching what the
/// agent writes. A log made by another version of letterbox (migrations this binary lacks or
/// does not know) is refused with ``DeliveryLogError``: `serve` or `deliver` upgrade it when
/// they open it.
///
/// The agent's ``DeliveryLog`` answers the same queries through its own reader
/// (``DeliveryLog/reader``), which sees only committed rows.
public final class DeliveryLogReader: DeliveryLogQueries {
    /// The engine's queries.
    private let queries: any DeliveryLogQueries

    /// Opens the log at `path` read-only and checks that its schema is this binary's.
    /// `busyTimeout`: how long a read waits while the last writer closing the log holds it
    /// exclusively for a moment (SQLite takes such a lock to clean up the WAL).
    public init(path: String, busyTimeout: TimeInterval = 5) throws {
        queries = try SQLiteEngine.openReadOnly(path: path, busyTimeout: busyTimeout)
    }

    /// Opens the log at `location` for reading: a PostgreSQL URL (``PostgresLocation``) or a
    /// SQLite file's path (``init(path:busyTimeout:)``). Nothing is created or migrated.
    public convenience init(location: String) throws {
        if PostgresLocation.isURL(location) {
            self.init(try PostgresEngine.openQueries(location: try PostgresLocation(url: location)))
        } else {
            try self.init(path: location)
        }
    }

    /// A reader over an open engine's queries (the agent's).
    init(_ queries: any DeliveryLogQueries) {
        self.queries = queries
    }

    /// The deliveries matching `filter`, newest first.
    public func deliveries(matching filter: DeliveryFilter) async throws -> [Delivery] {
        try await queries.deliveries(matching: filter)
    }

    /// One delivery by its row id.
    public func delivery(id: Int64) async throws -> Delivery? {
        try await queries.delivery(id: id)
    }

    /// Counts since `since` (everything when `nil`).
    public func stats(since: Date? = nil) async throws -> DeliveryStats {
        try await queries.stats(since: since)
    }

    /// Every delivered row that names a file, oldest first.
    public func deliveredFiles() async throws -> [DeliveredFile] {
        try await queries.deliveredFiles()
    }

    /// The engine's consistency check (SQLite's `PRAGMA integrity_check`): `["ok"]` when sound.
    public func integrityCheck() async throws -> [String] {
        try await queries.integrityCheck()
    }
}

extension DeliveryLogError {
    /// Why a reader of this binary, whose migrations are `known`, cannot read a log that has
    /// `applied` (and, with `hasUnknown`, migrations this binary does not know); `nil` when
    /// the two agree.
    static func schemaMismatch(applied: Set<String>, hasUnknown: Bool, known: [String], at path: String) -> DeliveryLogError? {
        if hasUnknown { return .newerSchema(path: path) }
        let missing = known.filter { !applied.contains($0) }
        guard !missing.isEmpty else { return nil }
        return applied.isEmpty ? .notALog(path: path) : .olderSchema(path: path, missing: missing)
    }
}

/// Why a delivery log could not be opened.
public enum DeliveryLogError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No file at the path.
    case missing(path: String)
    /// The file is not a delivery log (not SQLite, or without letterbox's tables).
    case notALog(path: String)
    /// The log lacks migrations this binary has: made by an older letterbox.
    case olderSchema(path: String, missing: [String])
    /// The log has migrations this binary does not know: made by a newer letterbox.
    case newerSchema(path: String)
    /// SQLite could not open or read it.
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .missing(let path):
            return "no delivery log at \(path)"
        case .notALog(let path):
            return "\(path) is not a letterbox delivery log"
        case .olderSchema(let path, let missing):
            return "the delivery log \(path) was made by an older letterbox (it lacks \(missing.joined(separator: ", "))): "
                + "start letterbox serve (or run letterbox deliver) once with this version to upgrade it"
        case .newerSchema(let path):
            return "the delivery log \(path) was made by a newer letterbox than this one"
        case .unreadable(let path, let reason):
            return "cannot read the delivery log \(path): \(reason)"
        }
    }
}
