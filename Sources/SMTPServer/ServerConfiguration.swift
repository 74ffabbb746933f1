import NIOCore
import NIOSSL
import SMTPCore

extension Server {
    /// Everything a ``Server`` can be told: the protocol settings of SMTPCore plus transport
    /// limits, timeouts and TLS (go-smtp's `Server` fields).
    public struct Configuration: Sendable {
        /// Protocol behaviour: LMTP or SMTP, host name, limits, which extensions are offered.
        public var session: SMTPCore.ServerConfiguration
        /// Longest command line, CRLF included (RFC 5321 §4.5.3.1.4 asks for at least 512;
        /// go-smtp defaults to 2000, which leaves room for long XCLIENT and AUTH lines).
        public var maximumLineLength: Int
        /// How long a client may stay silent (RFC 5321 §4.5.3.2.7 recommends 5 minutes).
        /// Also bounds a stalled STARTTLS handshake.
        public var readTimeout: TimeAmount?
        /// How long a TLS handshake may take before the connection is closed: after STARTTLS
        /// (RFC 3207), and from the first byte on a `.tls` (SMTPS, RFC 8314) listener.
        public var tlsHandshakeTimeout: TimeAmount?
        /// How long replies may sit unsent because the client does not read them; the
        /// connection is then closed (checked every `writeTimeout`, so between one and two of
        /// them after the client stopped reading).
        public var writeTimeout: TimeAmount?
        /// How long one message (from 354, or the first BDAT, to its end) may take.
        public var dataTimeout: Duration?
        /// A protocol trace (go-smtp's `Debug` writer): called with every command line
        /// (`C: …`) and reply line (`S: …`). AUTH payloads are replaced by `***`; message data
        /// is summarised, not copied.
        public var trace: (@Sendable (String) -> Void)?
        /// TLS for STARTTLS and for TLS-on-connect listeners.
        public var tls: NIOSSLContext?
        /// Networks whose clients count as secure without TLS (go-smtp's `SecureNet`):
        /// they may AUTH and use REQUIRETLS. A Unix-socket client is always local and secure.
        public var secureNetworks: [CIDR]
        /// Most connections open at once; more are answered `421 4.7.0` before the greeting.
        public var maximumConnections: Int?
        /// Most connections open at once from one IP address (Postfix
        /// `smtpd_client_connection_count_limit`); Unix-socket clients count as one client.
        public var maximumConnectionsPerClient: Int?
        /// Limits how often a client may connect (go-smtp's `RateLimiter`).
        public var rateLimiter: (any RateLimiter)?
        /// Where each connection's task, and so the backend's session calls, run.
        public var connectionExecutor: ConnectionExecutor
        /// How long transactions in flight may take to finish when a `ServiceGroup` shuts the
        /// server down gracefully (``Server/shutdown(gracePeriod:)``).
        public var shutdownGracePeriod: Duration = .seconds(30)
        /// Asked for every connection before its greeting, after the rate and connection
        /// limits: a reply (say `554 5.7.1`, RFC 5321 §3.1) refuses it — the reply is sent and the
        /// connection closed, no session made — and `nil` lets it in. For allow and deny lists.
        public var acceptConnection: (@Sendable (ConnectionState) -> Reply?)?
        /// Told of every reply the server sends (the greeting, each command's, each LMTP
        /// recipient's after the data, the refusals before a greeting), with the connection it
        /// went to: for metrics by reply code. Called on the connection's task; keep it short.
        public var replyObserver: (@Sendable (Reply, ConnectionState) -> Void)?

        /// Creates a configuration.
        public init(session: SMTPCore.ServerConfiguration = SMTPCore.ServerConfiguration(),
                    maximumLineLength: Int = 2000, readTimeout: TimeAmount? = .minutes(5),
                    writeTimeout: TimeAmount? = .minutes(5), tlsHandshakeTimeout: TimeAmount? = .seconds(30),
                    dataTimeout: Duration? = .seconds(600),
                    trace: (@Sendable (String) -> Void)? = nil, tls: NIOSSLContext? = nil, secureNetworks: [CIDR] = [],
                    maximumConnections: Int? = nil, maximumConnectionsPerClient: Int? = nil,
                    rateLimiter: (any RateLimiter)? = nil, connectionExecutor: ConnectionExecutor = .eventLoop) {
            self.session = session
            self.maximumLineLength = maximumLineLength
            self.readTimeout = readTimeout
            self.writeTimeout = writeTimeout
            self.tlsHandshakeTimeout = tlsHandshakeTimeout
            self.dataTimeout = dataTimeout
            self.trace = trace
            self.tls = tls
            self.secureNetworks = secureNetworks
            self.maximumConnections = maximumConnections
            self.maximumConnectionsPerClient = maximumConnectionsPerClient
            self.rateLimiter = rateLimiter
            self.connectionExecutor = connectionExecutor
        }
    }

    /// Where a connection's task runs (SE-0417 task executor preference).
    public enum ConnectionExecutor: Sendable {
        /// On the connection's own event loop: a command and its reply are handled on the
        /// thread that read the bytes, with no thread hand-off. Session methods then run on the
        /// event loop too, so a backend that blocks (disk I/O, fsync) must do that work
        /// elsewhere, e.g. on a `NIOThreadPool`, or it stalls every connection of that loop.
        case eventLoop
        /// On Swift's global concurrent executor: session methods may block briefly without
        /// stalling other connections' I/O, at the cost of two thread hand-offs per command.
        case globalConcurrent
    }
}

/// An IPv4 or IPv6 network in CIDR notation, e.g. `10.0.0.0/8` or `2001:db8::/32`.
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    private let network: [UInt8]
    private let prefixLength: Int

    /// Parses `address/length`; a bare address means a single host.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let address = try? SocketAddress(ipAddress: String(first), port: 0),
              let bytes = CIDR.bytes(of: address) else { return nil }
        let length: Int
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), parsed >= 0, parsed <= bytes.count * 8 else { return nil }
            length = parsed
        } else {
            length = bytes.count * 8
        }
        self.network = bytes
        self.prefixLength = length
    }

    /// Whether `address` is inside this network (IPv4-mapped IPv6 addresses match IPv4 networks).
    public func contains(_ address: SocketAddress) -> Bool {
        guard var bytes = CIDR.bytes(of: address) else { return false }
        if bytes.count == 16, network.count == 4, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == network.count else { return false }
        var remaining = prefixLength
        for index in bytes.indices where remaining > 0 {
            let bits = min(8, remaining)
            let mask: UInt8 = bits == 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if bytes[index] & mask != network[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// `address/length`.
    public var description: String {
        let text = network.count == 4 ? network.map(String.init).joined(separator: ".")
            : stride(from: 0, to: 16, by: 2).map { String(UInt16(network[$0]) << 8 | UInt16(network[$0 + 1]), radix: 16) }
                .joined(separator: ":")
        return "\(text)/\(prefixLength)"
    }

    static func bytes(of address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let v4):
            return withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6):
            return withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        default:
            return nil
        }
    }
}
