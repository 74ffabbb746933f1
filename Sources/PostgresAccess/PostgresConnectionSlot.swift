import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// One connection to the PostgreSQL server, made when first needed and made again after it
/// broke (the server restarted, the network went away): a use that finds it broken makes one
/// new attempt, so nothing retries without bound, and the agent recovers by itself once the
/// server is back. After an attempt fails, the uses of the next second fail at once with its
/// cause rather than each wait for an attempt of its own (a host that does not answer would
/// hold every one of them for the connect timeout).
package final class PostgresConnectionSlot: Sendable {
    package let location: PostgresLocation
    package let logger: Logger
    private let connection = Mutex<PostgresConnection?>(nil)
    /// Held while a connection is being made.
    private let connecting = NSLock()
    /// The last failed attempt and when it was made, until one succeeds.
    private let lastFailure = Mutex<(failure: PostgresFailure, at: ContinuousClock.Instant)?>(nil)
    /// The statements prepared on the current connection, by their SQL (a new connection
    /// starts with none).
    private let prepared = Mutex<(connection: ObjectIdentifier?, statements: [String: PreparedQuery])>((nil, [:]))
    /// How long a failed attempt answers for the uses after it.
    static let retryDelay = Duration.seconds(1)

    /// How long a statement may run (PostgreSQL's syntax), unless the URL's `options` say.
    private let statementTimeout: String

    /// A slot for connections to `location`, whose statements fail after `statementTimeout`
    /// (PostgreSQL's syntax, e.g. `30s`) unless the URL's `options` set their own.
    package init(location: PostgresLocation, logger: Logger, statementTimeout: String = "30s") {
        self.location = location
        self.logger = logger
        self.statementTimeout = statementTimeout
    }

    /// The open connection, connecting first when there is none. Blocks the calling thread,
    /// which must not be an event loop's. One thread connects at a time; the others wait for
    /// its connection rather than make their own.
    package func open() throws -> PostgresConnection {
        if let current = connection.withLock({ $0 }), !current.isClosed { return current }
        connecting.lock()
        defer { connecting.unlock() }
        if let current = connection.withLock({ $0 }), !current.isClosed { return current }
        if let last = lastFailure.withLock({ $0 }), last.at.duration(to: .now) < Self.retryDelay { throw last.failure }
        let made: PostgresConnection
        do {
            made = try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(),
                                                  configuration: location.configuration(statementTimeout: statementTimeout), id: 1, logger: logger).wait()
        } catch {
            let failure = PostgresFailure(location, error)
            lastFailure.withLock { $0 = (failure, .now) }
            throw failure
        }
        lastFailure.withLock { $0 = nil }
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
    package func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
        let connection = try open()
        do {
            return try connection.query(query, logger: logger).wait().rows
        } catch {
            throw PostgresFailure(location, error)
        }
    }

    /// Runs `sql` as a statement prepared once per connection (parsed and planned by the
    /// server once, not at every run) with `binds`, blocking the calling thread (not an event
    /// loop's). For the statements run for every delivery.
    package func preparedRows(_ sql: String, _ binds: [PostgresData]) throws -> [PostgresRow] {
        try startPrepared(sql, binds).wait()
    }

    /// ``preparedRows(_:_:)`` sent now (connecting and preparing first, blocking, when need
    /// be) and answered by the future: the caller can do other work during the round trip.
    /// A failure is a ``PostgresFailure``, thrown now or by the future.
    package func startPrepared(_ sql: String, _ binds: [PostgresData]) throws -> EventLoopFuture<[PostgresRow]> {
        let connection = try open()
        let key = ObjectIdentifier(connection)
        let location = location
        do {
            let statement: PreparedQuery
            if let known = prepared.withLock({ $0.connection == key ? $0.statements[sql] : nil }) {
                statement = known
            } else {
                statement = try connection.prepare(query: sql).wait()
                prepared.withLock { cache in
                    if cache.connection != key { cache = (key, [:]) }
                    cache.statements[sql] = statement
                }
            }
            return statement.execute(binds).flatMapErrorThrowing { throw PostgresFailure(location, $0) }
        } catch {
            throw PostgresFailure(location, error)
        }
    }

    /// ``rows(_:)`` from async code.
    package func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
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
    package func close() {
        let current = connection.withLock { slot -> PostgresConnection? in
            defer { slot = nil }
            return slot
        }
        guard let current else { return }
        let closed: EventLoopFuture<Void> = current.close()
        try? closed.wait()
    }
}
