import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// One connection to the PostgreSQL server, made when first needed and made again after it
/// broke (the server restarted, the network went away): each use that finds it broken makes one
/// new attempt, so nothing retries without bound, and the agent recovers by itself once the
/// server is back.
final class PostgresConnectionSlot: Sendable {
    let location: PostgresLocation
    private let logger: Logger
    private let connection = Mutex<PostgresConnection?>(nil)
    /// Held while a connection is being made.
    private let connecting = NSLock()

    init(location: PostgresLocation, logger: Logger) {
        self.location = location
        self.logger = logger
    }

    /// The open connection, connecting first when there is none. Blocks the calling thread,
    /// which must not be an event loop's. One thread connects at a time; the others wait for
    /// its connection rather than make their own.
    func open() throws -> PostgresConnection {
        if let current = connection.withLock({ $0 }), !current.isClosed { return current }
        connecting.lock()
        defer { connecting.unlock() }
        if let current = connection.withLock({ $0 }), !current.isClosed { return current }
        let made: PostgresConnection
        do {
            made = try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(),
                                                  configuration: location.configuration, id: 1, logger: logger).wait()
        } catch {
            throw PostgresFailure(location, error)
        }
        let replaced = connection.withLock { slot -> PostgresConnection? in
            defer { slot = made }
            return slot
        }
        // Closed already (that is why it was replaced); postgres-nio wants the close seen through.
        if let replaced { let closing: EventLoopFuture<Void> = replaced.close(); try? closing.wait() }
        return made
    }

    /// Runs `query` and returns its rows, blocking the calling thread (not an event loop's). A
    /// failure is thrown as a ``PostgresFailure`` naming the server.
    func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
        let connection = try open()
        do {
            return try connection.query(query, logger: logger).wait().rows
        } catch {
            throw PostgresFailure(location, error)
        }
    }

    /// ``rows(_:)`` from async code.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        let connection = try await openAsync()
        do {
            var rows: [PostgresRow] = []
            for try await row in try await connection.query(query, logger: logger) { rows.append(row) }
            return rows
        } catch {
            throw PostgresFailure(location, error)
        }
    }

    /// ``open()`` from async code, on a Dispatch thread.
    private func openAsync() async throws -> PostgresConnection {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try self.open() }) }
        }
    }

    deinit {
        // postgres-nio requires a connection to be closed before it goes away.
        if MultiThreadedEventLoopGroup.currentEventLoop == nil { close() }
    }

    /// Closes the connection, if one is open.
    func close() {
        let current = connection.withLock { slot -> PostgresConnection? in
            defer { slot = nil }
            return slot
        }
        guard let current else { return }
        let closed: EventLoopFuture<Void> = current.close()
        try? closed.wait()
    }
}

/// A PostgreSQL failure as an operator reads it: which server, and what it said (or why it
/// could not be reached).
public struct PostgresFailure: Error, CustomStringConvertible {
    /// The server, without its password.
    public let server: String
    /// The cause: the server's message with its SQLSTATE, or the connection's failure.
    public let cause: String

    init(_ location: PostgresLocation, _ error: any Error) {
        server = location.description
        if let failure = error as? PostgresFailure {
            cause = failure.cause
        } else if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                cause = message + (error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
            } else if let underlying = error.underlying {
                cause = "\(underlying)"
            } else {
                cause = "\(error.code)"
            }
        } else {
            cause = "\(error)"
        }
    }

    public var description: String { "PostgreSQL \(server): \(cause)" }
}
