import NIOCore
import NIOPosix
import NIOSSL
import SMTPCore
import SMTPTransport

/// An SMTP or LMTP client connection (go-smtp's `Client`), on SwiftNIO.
///
/// A client belongs to the task that uses it: its methods run one at a time, in protocol order,
/// so it is deliberately not `Sendable`. Every refusal by the server surfaces as an
/// `SMTPError` carrying the reply's code, enhanced code and full (multi-line) text; everything
/// else as ``SMTPClientError``.
///
/// ```swift
/// let client = try await Client.connect(to: .tcp(host: "mx.example.org", port: 25))
/// try await client.startTLS()
/// try await client.mail(from: "alice@example.org")
/// try await client.rcpt(to: "bob@example.net")
/// let writer = try await client.data()
/// try await writer.write("Subject: hi\r\n\r\nHello\r\n")
/// try await writer.finish()
/// try await client.quit()
/// ```
public final class Client {
    /// The configuration the client was made with.
    public let configuration: Configuration
    let transport: ClientTransport
    /// The host name the server's certificate is checked against.
    let serverHostname: String?
    /// The server's greeting (RFC 5321 §4.3.1).
    public let greeting: Reply
    /// The extensions the server announced in reply to EHLO or LHLO; empty after HELO.
    public internal(set) var capabilities = Capabilities()
    private var didHello = false
    /// Set by ``reset()``: ``hello(_:)`` may greet again (as go-smtp allows after `Reset`).
    private var helloAgainAllowed = false
    /// The name given in the last greeting, used again after STARTTLS.
    private var helloName = ""
    /// The recipients accepted in the current transaction (go-smtp's `GetRcpts`).
    public internal(set) var recipients: [Address] = []
    /// Whether the current transaction announced SMTPUTF8.
    var transactionUTF8 = false
    /// Whether the current transaction uses BODY=BINARYMIME (only BDAT may carry it).
    var transactionBinary = false
    /// Whether a data writer is open; other commands wait until it finishes.
    var writing = false
    private var closed = false

    init(transport: ClientTransport, greeting: Reply, configuration: Configuration, serverHostname: String?) {
        self.transport = transport
        self.greeting = greeting
        self.configuration = configuration
        self.serverHostname = serverHostname
    }

    /// Whether the client speaks LMTP.
    public var isLMTP: Bool { configuration.lmtp }

    /// The TLS state once STARTTLS succeeded or the connection began with TLS; `nil` otherwise.
    public var tlsConnectionState: TLSConnectionState? { transport.tlsState }

    // MARK: - Connecting

    /// Connects to `endpoint` and reads the server's greeting (go-smtp's `Dial`,
    /// `DialTLS`, `DialWithSocks5`; `NewClientLMTP` with `configuration.lmtp`).
    /// A greeting other than 220 closes the connection and throws it as an `SMTPError`.
    public static func connect(to endpoint: Endpoint, configuration: Configuration = Configuration(),
                               eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> Client {
        let hostname = configuration.tlsServerName ?? endpoint.serverHostname
        let implicitTLS: Bool
        switch endpoint {
        case .tls: implicitTLS = true
        case .socks5(_, _, _, let tls): implicitTLS = tls
        case .tcp, .unix: implicitTLS = false
        }
        let sslContext = implicitTLS ? try NIOSSLContext(configuration: configuration.tls) : nil
        let bootstrap = ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(configuration.connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    // Through a proxy, TLS starts after the SOCKS5 handshake instead.
                    if let sslContext, case .tls = endpoint {
                        try sync.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: hostname))
                    }
                    try sync.addHandler(ClientChannelHandler(channel: channel))
                }
            }
        let channel: any Channel
        do {
            switch endpoint {
            case .tcp(let host, let port), .tls(let host, let port):
                channel = try await bootstrap.connect(host: host, port: port).get()
            case .unix(let path):
                channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
            case .socks5(let proxy, _, _, _):
                channel = try await bootstrap.connect(host: proxy.host, port: proxy.port).get()
            }
        } catch ChannelError.connectTimeout {
            throw SMTPClientError.timeout
        }
        do {
            let transport = try await makeTransport(channel, configuration)
            if case .socks5(let proxy, let host, let port, let tls) = endpoint {
                try await SOCKS5Handshake(proxy: proxy, host: host, port: port)
                    .run(over: transport, timeout: configuration.connectTimeout)
                if tls, let sslContext {
                    try await channel.eventLoop.submit {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: sslContext, serverHostname: hostname), position: .first)
                    }.get()
                }
            }
            if implicitTLS { try await transport.awaitTLS(timeout: configuration.connectTimeout) }
            return try await start(transport, configuration, serverHostname: hostname)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// Makes a client on a channel the caller has connected (go-smtp's `NewClient` and
    /// `NewClientLMTP`), then reads the greeting. The channel must be active and should have
    /// been made with `ChannelOptions.autoRead` off: the client adds its handler at the end of
    /// the pipeline and only then turns reading on, so the greeting cannot slip past it. The
    /// client owns the channel from then on.
    public static func connect(over channel: any Channel, serverHostname: String? = nil,
                               configuration: Configuration = Configuration()) async throws -> Client {
        let io = try await channel.eventLoop.submit {
            let handler = ClientChannelHandler(channel: channel)
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.syncOptions?.setOption(.autoRead, value: true)
            channel.read()
            return handler.io
        }.get()
        let transport = ClientTransport(channel: channel, io: io, trace: configuration.trace)
        do {
            return try await start(transport, configuration, serverHostname: configuration.tlsServerName ?? serverHostname)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    private static func makeTransport(_ channel: any Channel, _ configuration: Configuration) async throws -> ClientTransport {
        let io = try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: ClientChannelHandler.self).io
        }.get()
        return ClientTransport(channel: channel, io: io, trace: configuration.trace)
    }

    private static func start(_ transport: ClientTransport, _ configuration: Configuration,
                              serverHostname: String?) async throws -> Client {
        let greeting = try await transport.readReply(timeout: configuration.commandTimeout)
        guard greeting.code == 220 else { throw greeting.error }
        return Client(transport: transport, greeting: greeting, configuration: configuration, serverHostname: serverHostname)
    }

    // MARK: - Commands

    /// Sends one command and reads its reply, refusing lines with CR or LF before sending.
    func command(_ line: String, traced: String? = nil, timeout: TimeAmount? = nil) async throws -> Reply {
        try checkUsable()
        try Self.checkLine(line)
        try await transport.send([line], traced: traced.map { [$0] })
        return try await transport.readReply(timeout: timeout ?? configuration.commandTimeout)
    }

    /// Sends a command and throws the reply's error unless its code is in `expected`.
    @discardableResult
    func command(_ line: String, expecting expected: ClosedRange<Int>, traced: String? = nil) async throws -> Reply {
        let reply = try await command(line, traced: traced)
        guard expected.contains(reply.code) else { throw Self.failure(reply) }
        return reply
    }

    /// The error for an unwanted reply: the server's refusal, or a reply that makes no sense here.
    static func failure(_ reply: Reply) -> any Error {
        reply.code >= 400 ? reply.error : SMTPClientError.unexpectedReply(reply)
    }

    static func checkLine(_ line: String) throws {
        if line.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) {
            throw SMTPClientError.invalidArgument("a command line cannot contain CR or LF")
        }
    }

    func checkUsable() throws {
        if closed { throw SMTPClientError.connectionClosed }
        if writing { throw SMTPClientError.invalidState("a message is being written; finish it first") }
    }

    /// Sends EHLO (LHLO for LMTP) with `localName`, falling back to HELO when the server does not
    /// know EHLO (500 or 502, RFC 5321 §4.1.4; never in LMTP). Only needed to choose the name;
    /// other methods greet with ``Configuration/localName`` first. Calling it twice fails, unless
    /// ``reset()`` came between (a new EHLO then starts afresh, RFC 5321 §4.1.4), as go-smtp
    /// allows.
    public func hello(_ localName: String) async throws {
        guard !didHello || helloAgainAllowed else { throw SMTPClientError.helloAlreadySent }
        helloAgainAllowed = false
        try await greet(localName)
    }

    /// Greets with the configured name unless that already happened.
    func ensureHello() async throws {
        if !didHello { try await greet(configuration.localName) }
    }

    /// Greets again with the same name (after STARTTLS, RFC 3207 §4.2).
    func greet(again: Bool) async throws {
        try await greet(helloName)
    }

    private func greet(_ name: String) async throws {
        guard !name.isEmpty, !name.contains(" ") else { throw SMTPClientError.invalidArgument("invalid local name \(name)") }
        helloAgainAllowed = false
        didHello = true
        helloName = name
        let verb = isLMTP ? "LHLO" : "EHLO"
        let reply = try await command(verb + " " + name)
        if reply.code == 250 {
            capabilities = Capabilities(ehloReply: reply)
            return
        }
        guard !isLMTP, reply.code == 500 || reply.code == 502 else { throw Self.failure(reply) }
        try await command("HELO " + name, expecting: 250...250)
        capabilities = Capabilities()
    }

    /// Whether the server offers `keyword` (case-insensitive), and with which parameters
    /// (go-smtp's `Extension`). Greets first if needed.
    public func `extension`(_ keyword: String) async throws -> Capability? {
        try await ensureHello()
        return capabilities[keyword]
    }

    /// The server's message size limit from SIZE (RFC 1870), if it announced one.
    public func maxMessageSize() async throws -> Int? {
        try await ensureHello()
        return capabilities.maximumMessageSize
    }

    /// Whether the server offers the SASL mechanism `mechanism` with AUTH (RFC 4954).
    public func supportsAuth(_ mechanism: String) async throws -> Bool {
        try await ensureHello()
        return capabilities.authMechanisms.contains(mechanism.uppercased())
    }

    /// Sends NOOP (RFC 5321 §4.1.1.9).
    public func noop() async throws {
        try await ensureHello()
        try await command("NOOP", expecting: 250...250)
    }

    /// Sends VRFY for `address` (RFC 5321 §4.1.1.6). Returns the server's positive reply (250,
    /// 251, or 252 for "cannot verify but will accept"); a refusal throws.
    @discardableResult
    public func verify(_ address: String) async throws -> Reply {
        try await ensureHello()
        return try await command("VRFY " + address, expecting: 250...252)
    }

    /// Sends RSET (RFC 5321 §4.1.1.5), ending the transaction; forgets its recipients. After
    /// it, ``hello(_:)`` may greet again.
    public func reset() async throws {
        try await ensureHello()
        try await command("RSET", expecting: 250...250)
        endTransaction()
        helloAgainAllowed = true
    }

    /// Forgets the greeting: the next command greets again (after XCLIENT, whose reply is a
    /// new greeting).
    func forgetHello() {
        didHello = false
        helloAgainAllowed = false
        capabilities = Capabilities()
    }

    /// Sends QUIT and closes the connection. If QUIT fails, the connection stays open; call
    /// ``close()`` then.
    public func quit() async throws {
        try checkUsable()
        try await command("QUIT", expecting: 221...221)
        await close()
    }

    /// Closes the connection without QUIT.
    public func close() async {
        closed = true
        await transport.close()
    }

    func endTransaction() {
        recipients = []
        transactionUTF8 = false
        transactionBinary = false
    }
}
