import Foundation
import GRDB

/// Read-only access to a delivery log: what `letterbox deliveries list|show|stats|verify` open.
///
/// The connection is opened read-only (`SQLITE_OPEN_READONLY`): it runs no migration, changes no
/// journal mode or attribute, and never checkpoints or deletes the WAL when it closes, so it
/// can run beside the agent, as any user who can read the files, without touching what the
/// agent writes. A log made by another version of letterbox (migrations this binary lacks or
/// does not know) is refused with ``DeliveryLogError``: `serve` or `deliver` upgrade it when
/// they open it.
///
/// The agent's ``DeliveryLog`` answers the same queries through its own reader
/// (``DeliveryLog/reader``), which sees only committed rows.
public final class DeliveryLogReader: Sendable {
    let database: any DatabaseReader

    /// Opens the log at `path` read-only and checks that its schema is this binary's.
    /// `busyTimeout`: how long a read waits while the last writer closing the log holds it
    /// exclusively for a moment (SQLite takes such a lock to clean up the WAL).
    public init(path: String, busyTimeout: TimeInterval = 5) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw DeliveryLogError.missing(path: path) }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyTimeout)
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw Self.openingError(error, path: path)
        }
        let migrator = DeliveryLogSchema.migrator
        let (applied, superseded) = try Self.readSchema(queue, path: path) { db in
            (try migrator.appliedIdentifiers(db), try migrator.hasBeenSuperseded(db))
        }
        if superseded {
            throw DeliveryLogError.newerSchema(path: path)
        }
        let missing = migrator.migrations.filter { !applied.contains($0) }
        if !missing.isEmpty {
            throw applied.isEmpty ? DeliveryLogError.notALog(path: path) : DeliveryLogError.olderSchema(path: path, missing: missing)
        }
        database = queue
    }

    /// A reader over connections the caller opened (the agent's pool).
    init(database: any DatabaseReader) {
        self.database = database
    }

    private static func readSchema<T>(_ queue: DatabaseQueue, path: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try queue.read(body)
        } catch {
            throw openingError(error, path: path)
        }
    }

    /// What an error of SQLite's while opening means to the operator.
    private static func openingError(_ error: any Error, path: String) -> DeliveryLogError {
        if let error = error as? DatabaseError {
            if error.resultCode == .SQLITE_NOTADB { return .notALog(path: path) }
            return .unreadable(path: path, reason: error.message ?? "SQLite error \(error.resultCode.rawValue)")
        }
        return .unreadable(path: path, reason: "\(error)")
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
