import Foundation
import PostgresNIO

/// Where a PostgreSQL delivery log is: a `postgres://` or `postgresql://` URL, as libpq reads
/// them — `postgresql://user:password@host:port/database`, or a Unix socket's directory in the
/// `host` parameter (`postgresql://letterbox@/mail?host=/run/postgresql`), whose socket is
/// `.s.PGSQL.<port>` there, as for psql.
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    /// The host name or address, or `nil` for a Unix socket.
    public var host: String?
    /// The directory holding the server's Unix socket, when there is no host.
    public var socketDirectory: String?
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String

    /// Whether `text` names a PostgreSQL server rather than a file (its scheme is
    /// `postgres://` or `postgresql://`).
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Why a URL was refused.
    public struct InvalidURL: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses a URL; throws ``InvalidURL`` saying what is wrong with it.
    public init(url text: String) throws {
        guard Self.isURL(text), let components = URLComponents(string: text) else {
            throw InvalidURL(description: "not a postgres:// or postgresql:// URL: \(Self.redacted(text))")
        }
        let parameters = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        for name in parameters.keys where !["host", "port", "user", "password", "dbname", "sslmode"].contains(name) {
            throw InvalidURL(description: "unknown parameter \(name) in \(Self.redacted(text))")
        }
        if let mode = parameters["sslmode"], !["disable", "allow", "prefer"].contains(mode) {
            throw InvalidURL(description: "sslmode=\(mode) is not supported: TLS to PostgreSQL is not offered, use a Unix socket or loopback")
        }
        let hostParameter = parameters["host"].flatMap { $0.isEmpty ? nil : $0 }
        let urlHost = components.percentEncodedHost.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding }
        if let hostParameter, hostParameter.hasPrefix("/") {
            socketDirectory = hostParameter
            host = nil
        } else if let name = hostParameter ?? urlHost {
            host = name
            socketDirectory = nil
        } else {
            host = nil
            socketDirectory = "/run/postgresql"
        }
        if let value = parameters["port"] ?? components.port.map(String.init) {
            guard let number = Int(value), (1...65535).contains(number) else {
                throw InvalidURL(description: "bad port \(value) in \(Self.redacted(text))")
            }
            port = number
        } else {
            port = 5432
        }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let name = parameters["dbname"] ?? path
        user = parameters["user"] ?? components.user ?? "letterbox"
        password = parameters["password"] ?? components.password
        database = name.isEmpty ? user : name
    }

    /// The URL with its password hidden, for messages and logs.
    public static func redacted(_ text: String) -> String {
        guard var components = URLComponents(string: text) else { return text }
        if components.password != nil { components.password = "***" }
        if let items = components.queryItems, items.contains(where: { $0.name == "password" }) {
            components.queryItems = items.map { $0.name == "password" ? URLQueryItem(name: "password", value: "***") : $0 }
        }
        return components.string ?? text
    }

    /// The server as messages name it: `host:port/database` or `socket-path/database`, with
    /// the user.
    public var description: String {
        let server = host.map { "\($0):\(port)" } ?? "\(socketPath)"
        return "\(user)@\(server)/\(database)"
    }

    /// The Unix socket's path (`.s.PGSQL.<port>` in the socket directory).
    var socketPath: String {
        (socketDirectory ?? "/run/postgresql") + "/.s.PGSQL.\(port)"
    }

    /// postgres-nio's configuration for a connection to this server.
    var configuration: PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let host {
            configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                             database: database, tls: .disable)
        } else {
            configuration = PostgresConnection.Configuration(unixSocketPath: socketPath, username: user, password: password,
                                                             database: database)
        }
        configuration.options.connectTimeout = .seconds(5)
        // No statement waits without bound (a lock another session holds, a server that
        // stalls): it fails after this, and its recipients get 451 while the MTA retries.
        configuration.options.additionalStartupParameters = [("statement_timeout", "30s")]
        return configuration
    }
}
