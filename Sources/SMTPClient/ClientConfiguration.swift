import NIOCore
import NIOSSL

extension Client {
    /// Where to connect.
    public enum Endpoint: Sendable, CustomStringConvertible {
        /// Plain TCP; use ``Client/startTLS(configuration:)`` to upgrade (RFC 3207).
        case tcp(host: String, port: Int)
        /// TLS from the first byte (submissions, RFC 8314 §3.3; go-smtp's `DialTLS`).
        case tls(host: String, port: Int)
        /// A Unix-domain socket, typically a local LMTP server.
        case unix(path: String)
        /// `host:port` reached through a SOCKS5 proxy (RFC 1928), TLS from the first byte when
        /// `tls` is set (go-smtp's `DialWithSocks5`).
        case socks5(proxy: SOCKS5Proxy, host: String, port: Int, tls: Bool)

        /// The host name TLS checks the server's certificate against, if any.
        var serverHostname: String? {
            switch self {
            case .tcp(let host, _), .tls(let host, _), .socks5(_, let host, _, _):
                // SNI takes names only (RFC 6066 §3), never address literals.
                return (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
            case .unix:
                return nil
            }
        }

        public var description: String {
            switch self {
            case .tcp(let host, let port): return "\(host):\(port)"
            case .tls(let host, let port): return "tls://\(host):\(port)"
            case .unix(let path): return "unix:\(path)"
            case .socks5(let proxy, let host, let port, let tls):
                return "\(tls ? "tls://" : "")\(host):\(port) via socks5://\(proxy.host):\(proxy.port)"
            }
        }
    }

    /// How the client behaves.
    public struct Configuration: Sendable {
        /// Speak LMTP (RFC 2033): LHLO instead of EHLO, one reply per recipient after the data.
        public var lmtp: Bool
        /// The name the client gives in EHLO/LHLO/HELO when ``Client/hello(_:)`` is not called.
        public var localName: String
        /// How long connecting (and a SOCKS5 or TLS handshake on connect) may take.
        public var connectTimeout: TimeAmount
        /// How long the server may take to answer a command, the 354 to DATA included (the
        /// reference's `CommandTimeout`, 5 minutes; RFC 5321 §4.5.3.2 asks for at least that).
        public var commandTimeout: TimeAmount
        /// How long the server may take to answer after the end of the data (go-smtp's
        /// `SubmissionTimeout`, 12 minutes; RFC 5321 §4.5.3.2.6 asks for 10).
        public var submissionTimeout: TimeAmount
        /// TLS settings for ``Client/startTLS(configuration:)`` and TLS endpoints.
        public var tls: TLSConfiguration
        /// The name the server's certificate must carry (and the SNI sent); by default the host
        /// connected to, unless that is an address literal (Go's `tls.Config.ServerName`).
        public var tlsServerName: String?
        /// A protocol trace (go-smtp's `DebugWriter`): called with every command line
        /// (`C: …`) and reply line (`S: …`). AUTH payloads are replaced by `***`; message data
        /// is summarised, not copied.
        public var trace: (@Sendable (String) -> Void)?

        /// Creates a configuration.
        public init(lmtp: Bool = false, localName: String = "localhost",
                    connectTimeout: TimeAmount = .seconds(30), commandTimeout: TimeAmount = .minutes(5),
                    submissionTimeout: TimeAmount = .minutes(12),
                    tls: TLSConfiguration = .makeClientConfiguration(),
                    trace: (@Sendable (String) -> Void)? = nil) {
            self.lmtp = lmtp
            self.localName = localName
            self.connectTimeout = connectTimeout
            self.commandTimeout = commandTimeout
            self.submissionTimeout = submissionTimeout
            self.tls = tls
            self.tlsServerName = nil
            self.trace = trace
        }
    }
}

/// A SOCKS5 proxy (RFC 1928), with RFC 1929 username/password authentication when credentials
/// are given.
public struct SOCKS5Proxy: Hashable, Sendable {
    /// The proxy's host.
    public var host: String
    /// The proxy's port.
    public var port: Int
    /// The user name for RFC 1929 authentication.
    public var username: String?
    /// The password for RFC 1929 authentication.
    public var password: String?

    /// Creates a proxy description.
    public init(host: String, port: Int = 1080, username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
    }

    /// Parses `socks5://user:pass@host:port` (or without the scheme, as go-smtp takes it);
    /// user and password may be percent-encoded. Returns `nil` for anything else.
    public init?(url: String) {
        var rest = Substring(url)
        if let colon = rest.firstIndex(of: ":"), rest[colon...].hasPrefix("://") {
            guard rest[..<colon].lowercased() == "socks5" else { return nil }
            rest = rest[rest.index(colon, offsetBy: 3)...]
        }
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let user = Self.percentDecoded(parts[0]) else { return nil }
            username = user
            if parts.count == 2 {
                guard let pass = Self.percentDecoded(parts[1]) else { return nil }
                password = pass
            }
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        let host: Substring
        let portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            portText = after.hasPrefix(":") ? after.dropFirst() : (after.isEmpty ? nil : "")
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
            portText = nil
        }
        guard !host.isEmpty else { return nil }
        var port = 1080
        if let portText {
            guard let parsed = Int(portText), (1...65535).contains(parsed) else { return nil }
            port = parsed
        }
        self.init(host: String(host), port: port, username: username, password: password)
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(),
                  let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(value)
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
