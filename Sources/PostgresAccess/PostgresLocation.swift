import Foundation
import PostgresNIO

/// Where a PostgreSQL delivery log is: a `postgres://` or `postgresql://` URL, as libpq reads
/// them — `postgresql://user:password@host:port/database`, or a Unix socket's directory in the
/// `host` parameter (`postgresql://letterbox@/mail?host=/run/postgresql`), whose socket is
/// `.s.PGSQL.<port>` there, as for psql. Of libpq's other parameters, `connect_timeout`
/// (seconds, 5 by default) and `options` (server settings as `-c name=value`, e.g.
/// `options=-c%20statement_timeout%3D10s`) are read; unless `options` sets
/// `statement_timeout`, each use gives one (``configuration(statementTimeout:)``), so that no
/// statement waits without bound.
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    /// The host name or address, or `nil` for a Unix socket.
    public var host: String?
    /// The directory holding the server's Unix socket, when there is no host.
    public var socketDirectory: String?
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// How long a connection may take to be made.
    public var connectTimeout: Duration
    /// Server settings sent when connecting (libpq's `options`), `statement_timeout` included.
    public var settings: [Setting]

    /// A server setting (a run-time parameter, as `SET name = value` would give it).
    public struct Setting: Sendable, Hashable {
        public var name: String
        public var value: String
    }

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
        for name in parameters.keys where !["host", "port", "user", "password", "dbname", "sslmode", "connect_timeout", "options"].contains(name) {
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
        if let value = parameters["connect_timeout"] {
            guard let seconds = Int(value), seconds > 0 else {
                throw InvalidURL(description: "bad connect_timeout \(value) in \(Self.redacted(text))")
            }
            connectTimeout = .seconds(seconds)
        } else {
            connectTimeout = .seconds(5)
        }
        settings = try Self.settings(parameters["options"] ?? "", in: text)
    }

    /// The settings of libpq's `options`: `-c name=value`, `-cname=value` or `--name=value`,
    /// separated by spaces.
    private static func settings(_ options: String, in text: String) throws -> [Setting] {
        var words = options.split(separator: " ").map(String.init).makeIterator()
        var settings: [Setting] = []
        while let word = words.next() {
            let setting: String?
            if word == "-c" {
                setting = words.next()
            } else if word.hasPrefix("-c") {
                setting = String(word.dropFirst(2))
            } else if word.hasPrefix("--") {
                setting = String(word.dropFirst(2))
            } else {
                setting = nil
            }
            guard let setting, let equals = setting.firstIndex(of: "="), equals != setting.startIndex else {
                throw InvalidURL(description: "options must be -c name=value settings: \(Self.redacted(text))")
            }
            settings.append(Setting(name: String(setting[..<equals]).replacingOccurrences(of: "-", with: "_"),
                                    value: String(setting[setting.index(after: equals)...])))
        }
        return settings
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

    /// postgres-nio's configuration for a connection to this server, with `statementTimeout`
    /// (PostgreSQL's syntax, e.g. `30s`) unless the URL's `options` set one.
    func configuration(statementTimeout: String) -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let host {
            configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                             database: database, tls: .disable)
        } else {
            configuration = PostgresConnection.Configuration(unixSocketPath: socketPath, username: user, password: password,
                                                             database: database)
        }
        configuration.options.connectTimeout = .seconds(connectTimeout.components.seconds)
        // No statement waits without bound (a lock another session holds, a server that
        // stalls): it fails after statement_timeout, and its recipients get 451 while the
        // MTA retries.
        let timeout = settings.contains { $0.name == "statement_timeout" }
            ? [] : [Setting(name: "statement_timeout", value: statementTimeout)]
        configuration.options.additionalStartupParameters = (settings + timeout).map { ($0.name, $0.value) }
        return configuration
    }
}
