import PostgresNIO

/// A PostgreSQL failure as an operator reads it: which server, and what it said (or why it
/// could not be reached).
public struct PostgresFailure: Error, CustomStringConvertible {
    /// The server, without its password.
    public let server: String
    /// The cause: the server's message with its SQLSTATE, or the connection's failure.
    public let cause: String
    /// The server's SQLSTATE, when the server answered with an error (class `42`: the
    /// statement cannot run; `08`, `57`: the connection or the server went away).
    public let sqlState: String?

    package init(_ location: PostgresLocation, _ error: any Error) {
        server = location.description
        sqlState = (error as? PostgresFailure)?.sqlState ?? (error as? PSQLError)?.serverInfo?[.sqlState]
            ?? { if case .server(let answer) = error as? PostgresError { answer.fields[.sqlState] } else { nil } }()
        if let failure = error as? PostgresFailure {
            cause = failure.cause
        } else if case .server(let answer) = error as? PostgresError {
            // What postgres-nio's prepared queries throw: the server's message, as above.
            cause = Self.serverCause(answer.fields[.message] ?? "\(answer)", sqlState: answer.fields[.sqlState])
        } else if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                cause = Self.serverCause(message, sqlState: error.serverInfo?[.sqlState])
            } else if let underlying = error.underlying {
                cause = "\(underlying)"
            } else {
                cause = "\(error.code)"
            }
        } else {
            cause = "\(error)"
        }
    }

    /// What the server said, with its SQLSTATE when it gave one.
    private static func serverCause(_ message: String, sqlState: String?) -> String {
        sqlState.map { "\(message) (SQLSTATE \($0))" } ?? message
    }

    public var description: String { "PostgreSQL \(server): \(cause)" }
}
