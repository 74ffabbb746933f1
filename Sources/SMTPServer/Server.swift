import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SMTPCore
import SMTPTransport
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What every connection of a server shares.
struct ServerContext: Sendable {
    let configuration: Server.Configuration
    let backend: any Backend
    let logger: Logger
    let mechanisms: AuthenticationMechanisms
    let metrics: ServerMetrics
}

/// An SMTP or LMTP server (go-smtp's `Server`): listeners, one task per connection, and
/// the protocol of SMTPCore's state machine in front of a ``Backend``.
///
/// ```swift
/// let server = Server(backend: MyBackend(), configuration: .init(session: .init(lmtp: true)))
/// try await server.listen(.unix(path: "/run/letterbox/lmtp.sock", mode: 0o660))
/// try await server.run()        // until close() or cancellation
/// ```
public final class Server: Sendable {
    /// Where to accept connections.
    public enum Endpoint: Sendable, CustomStringConvertible {
        /// TCP on `host` (an IPv4 or IPv6 address or a name) and `port`; port 0 picks one.
        case tcp(host: String, port: Int)
        /// TCP with TLS from the first byte (SMTPS, RFC 8314); needs ``Configuration/tls``.
        case tls(host: String, port: Int)
        /// A Unix-domain socket at `path`, made `mode` after binding. An existing socket file
        /// is removed only when nothing is listening on it.
        case unix(path: String, mode: mode_t = 0o660)
        /// A listening socket the process inherited (systemd socket activation). The server
        /// takes ownership of the descriptor. A Unix-domain socket serves local, trusted clients.
        case inherited(descriptor: CInt)

        /// The listening sockets systemd passed to this process (`LISTEN_PID`, `LISTEN_FDS`,
        /// descriptors from 3 on; sd_listen_fds(3)), or an empty array when there are none or
        /// they were meant for another process.
        public static func systemdSockets(environment: [String: String]) -> [Endpoint] {
            guard let pid = environment["LISTEN_PID"].flatMap({ Int32($0) }), pid == getpid(),
                  let count = environment["LISTEN_FDS"].flatMap({ Int32($0) }), count > 0 else { return [] }
            return (0..<count).map { .inherited(descriptor: 3 + $0) }
        }

        /// Text for logs.
        public var description: String {
            switch self {
            case .tcp(let host, let port): return "tcp:\(host):\(port)"
            case .tls(let host, let port): return "tls:\(host):\(port)"
            case .unix(let path, _): return "unix:\(path)"
            case .inherited(let descriptor): return "fd:\(descriptor)"
            }
        }
    }

    /// Errors of the listeners.
    public enum ListenError: Error, Hashable, Sendable, CustomStringConvertible {
        /// Another process is listening on this Unix socket.
        case socketInUse(String)
        /// Something other than a socket is at the Unix socket's path (it is never removed).
        case notASocket(String)
        /// The endpoint (as ``Endpoint/description`` names it) cannot be bound: `errno` says why
        /// (`EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`, …).
        case cannotBind(String, errno: Int32)
        /// A TLS endpoint was asked for without a TLS configuration.
        case tlsNotConfigured
        /// `run()` was called twice, or `listen` after `run`.
        case alreadyRunning

        /// One line for an operator, naming the socket or address.
        public var description: String {
            switch self {
            case .socketInUse(let path): "\(path): another process is listening on this socket"
            case .notASocket(let path): "\(path): exists and is not a socket"
            case .cannotBind(let endpoint, let code): "\(endpoint): \(String(cString: strerror(code)))"
            case .tlsNotConfigured: "a TLS endpoint needs a TLS configuration"
            case .alreadyRunning: "the server is already running"
            }
        }
    }

    /// The listener yields raw channels; each connection's task then reads it through the
    /// ``ConnectionIO`` of its last handler.
    typealias Listener = NIOAsyncChannel<any Channel, Never>

    private struct State {
        var listeners: [(listener: Listener, endpoint: Endpoint, proxyProtocol: ProxyProtocol?)] = []
        var running = false
        var closed = false
        var connections: [ObjectIdentifier: any Channel] = [:]
        var mechanisms = AuthenticationMechanisms.standard
        /// Handles on the connections being served.
        var handles: [ObjectIdentifier: Conn] = [:]
        /// Set by ``Server/shutdown(gracePeriod:)``: connections close after their transaction.
        var draining = false
        /// Connections being served, overall and per client key.
        var served = 0
        var servedPerClient: [String: Int] = [:]
    }

    private let baseContext: ServerContext
    private let group: any EventLoopGroup
    private let state = Mutex(State())

    /// The configuration.
    public var configuration: Configuration { baseContext.configuration }

    /// The shared context, with the SASL mechanisms registered so far.
    var context: ServerContext {
        let mechanisms = state.withLock { $0.mechanisms }
        return ServerContext(configuration: baseContext.configuration, backend: baseContext.backend,
                             logger: baseContext.logger, mechanisms: mechanisms, metrics: baseContext.metrics)
    }

    /// Offers the SASL mechanism `name` with servers made by `factory` (go-smtp's
    /// `EnableAuth`). PLAIN and LOGIN are offered from the start; registering one of those
    /// names replaces the built-in mechanism. AUTH is announced only when the connection is
    /// secure, or `allowInsecureAuth` is set, and never when `authDisabled` is.
    public func enableAuth(name: String, factory: @escaping SASLServerFactory) {
        state.withLock { $0.mechanisms.set(name, factory) }
    }

    /// Creates a server; nothing listens until ``listen(_:proxyProtocol:)`` and ``run()``. Its metrics
    /// (`smtp_connections_total`, `smtp_messages_total`, …) go to the
    /// swift-metrics backend bootstrapped before this call, if any.
    public init(backend: any Backend, configuration: Configuration = Configuration(),
                logger: Logger = Logger(label: "letterbox.smtp"),
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.baseContext = ServerContext(configuration: configuration, backend: backend, logger: logger,
                                         mechanisms: AuthenticationMechanisms.standard, metrics: ServerMetrics())
        self.group = eventLoopGroup
    }

    /// Binds `endpoint` and returns the address it is bound to. Connections are served once
    /// ``run()`` is called. With `proxyProtocol`, every connection must begin with a PROXY
    /// protocol header from a trusted load balancer (``ProxyProtocol``).
    @discardableResult
    public func listen(_ endpoint: Endpoint, proxyProtocol: ProxyProtocol? = nil) async throws -> SocketAddress? {
        let implicitTLS: NIOSSLContext?
        if case .tls = endpoint {
            guard let tls = configuration.tls else { throw ListenError.tlsNotConfigured }
            implicitTLS = tls
        } else {
            implicitTLS = nil
        }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            // Reads start at 8 KiB and never go below: NIO's default shrinks to 64 octets
            // after a few short command lines, and a message's body then took two or three
            // reads (and as many trips through the pipeline) instead of one.
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 8192, initial: 8192, maximum: 65536))
            // Reading starts once the connection's task has wrapped the channel.
            .childChannelOption(.autoRead, value: false)
        let readTimeout = configuration.readTimeout
        let writeTimeout = configuration.writeTimeout
        let handshakeTimeout = configuration.tlsHandshakeTimeout
        let startTLS = configuration.tls
        let initializer: @Sendable (any Channel) -> EventLoopFuture<any Channel> = { [self] channel in
            channel.eventLoop.makeCompletedFuture {
                let open = self.state.withLock { state -> Bool in
                    guard !state.closed else { return false }
                    state.connections[ObjectIdentifier(channel)] = channel
                    return true
                }
                guard open else { throw ChannelError.ioOnClosedChannel }
                let sync = channel.pipeline.syncOperations
                // The header comes before anything else, TLS's handshake included.
                if let proxyProtocol {
                    try sync.addHandler(ProxyHeaderHandler(eventLoop: channel.eventLoop, timeout: proxyProtocol.headerTimeout))
                }
                if let implicitTLS { try sync.addHandler(NIOSSLServerHandler(context: implicitTLS)) }
                // The last handler keeps the read and write timeouts itself: NIO's IdleStateHandler
                // would be one more handler for every read and write to pass through, and with
                // a write timeout it makes a promise and a callback for every write.
                try sync.addHandler(ConnectionChannelHandler(channel: channel, tlsContext: startTLS, handshakeTimeout: handshakeTimeout,
                                                             readTimeout: readTimeout, writeTimeout: writeTimeout,
                                                             implicitTLS: implicitTLS != nil))
                return channel
            }
        }
        let listener: Listener
        switch endpoint {
        case .tcp(let host, let port), .tls(let host, let port):
            listener = try await bootstrap.bind(host: host, port: port, childChannelInitializer: initializer)
        case .unix(let path, let mode):
            try UnixSocket.removeIfStale(path)
            listener = try await bootstrap.bind(unixDomainSocketPath: path, childChannelInitializer: initializer)
            guard chmod(path, mode) == 0 else {
                let code = errno
                try? await listener.executeThenClose { _ in }
                throw IOError(errnoCode: code, reason: "chmod \(path)")
            }
        case .inherited(let descriptor):
            // Keep inherited descriptors from leaking into child processes.
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            listener = try await bootstrap.bind(descriptor, childChannelInitializer: initializer)
        }
        let accepted = state.withLock { state -> Bool in
            guard !state.running, !state.closed else { return false }
            state.listeners.append((listener, endpoint, proxyProtocol))
            return true
        }
        guard accepted else {
            try? await listener.executeThenClose { _ in }
            throw ListenError.alreadyRunning
        }
        context.logger.debug("listening on \(endpoint)", metadata: ["smtp.address": "\(listener.channel.localAddress.map { "\($0)" } ?? "?")"])
        return listener.channel.localAddress
    }

    /// Serves every bound listener until ``close()`` is called or the task is cancelled.
    /// Each connection runs in a child task of this call.
    public func run() async throws {
        let listeners = try state.withLock { state in
            guard !state.running else { throw ListenError.alreadyRunning }
            state.running = true
            return state.listeners
        }
        try await runAsService {
            try await withThrowingDiscardingTaskGroup { group in
                for (listener, endpoint, proxyProtocol) in listeners {
                    group.addTask {
                        try await self.accept(on: listener, endpoint: endpoint, proxyProtocol: proxyProtocol)
                    }
                }
            }
        }
    }

    private func accept(on listener: Listener, endpoint: Endpoint, proxyProtocol: ProxyProtocol?) async throws {
        let isUnix: Bool
        switch endpoint {
        case .unix: isUnix = true
        case .inherited:
            if case .unixDomainSocket = listener.channel.localAddress { isUnix = true } else { isUnix = false }
        case .tcp, .tls: isUnix = false
        }
        let implicitTLS: Bool
        if case .tls = endpoint { implicitTLS = true } else { implicitTLS = false }
        do {
            try await withTaskCancellationHandler {
                try await listener.executeThenClose { inbound in
                    try await withThrowingDiscardingTaskGroup { connections in
                        for try await channel in inbound {
                            connections.addTask(executorPreference: self.executor(for: channel)) {
                                await self.serve(channel, local: isUnix, implicitTLS: implicitTLS, proxyProtocol: proxyProtocol)
                            }
                        }
                    }
                }
            } onCancel: {
                listener.channel.close(promise: nil)
            }
        } catch ChannelError.ioOnClosedChannel, ChannelError.alreadyClosed {
            // close() or shutdown() closed the listener first: a normal end.
        }
        if case .unix(let path, _) = endpoint { unlink(path) }
    }

    /// Where a connection's task runs: on its channel's event loop unless configured otherwise.
    private func executor(for channel: any Channel) -> (any TaskExecutor)? {
        switch configuration.connectionExecutor {
        case .eventLoop: EventLoopTaskExecutor(channel.eventLoop)
        case .globalConcurrent: nil
        }
    }

    private func serve(_ rawChannel: any Channel, local socketIsLocal: Bool, implicitTLS: Bool, proxyProtocol: ProxyProtocol?) async {
        let id = ObjectIdentifier(rawChannel)
        defer { _ = state.withLock { $0.connections.removeValue(forKey: id) } }
        let channel = rawChannel
        let io: ConnectionIO
        let proxyHeader: EventLoopFuture<ProxyProtocolHeader>?
        do {
            (io, proxyHeader) = try await channel.eventLoop.submit {
                let sync = channel.pipeline.syncOperations
                let io = try sync.handler(type: ConnectionChannelHandler.self).io
                let header = proxyProtocol == nil ? nil : try sync.handler(type: ProxyHeaderHandler.self).header
                try channel.syncOptions?.setOption(.autoRead, value: true)
                return (io, header)
            }.get()
        } catch {
            try? await channel.close()
            return
        }
        defer { channel.close(promise: nil) }
        let context = self.context
        var local = socketIsLocal
        var remote = channel.remoteAddress
        var localAddress = channel.localAddress
        var original: ConnectionState?
        if let proxyProtocol, let proxyHeader {
            guard proxyProtocol.trusts(remote) else {
                context.logger.notice("closed connection: PROXY protocol header from an untrusted address",
                                      metadata: ["smtp.client": "\(remote?.ipAddress ?? "unknown")"])
                return
            }
            do {
                let header = try await proxyHeader.get()
                if let source = header.source {
                    original = ConnectionState(sessionID: "", localAddress: localAddress, remoteAddress: socketIsLocal ? nil : remote)
                    remote = source
                    localAddress = header.destination
                    local = false
                }
            } catch {
                context.logger.notice("closed connection: no valid PROXY protocol header (\(error))",
                                      metadata: ["smtp.client": "\(remote?.ipAddress ?? "unknown")"])
                return
            }
        }
        let clientKey = local ? "local" : (remote?.ipAddress ?? "unknown")
        if let refusal = admit(clientKey) {
            var wire = ByteBuffer()
            refusal.write(to: &wire)
            try? await io.write(NIOAny(wire))
            if let observer = configuration.replyObserver {
                observer(refusal, ConnectionState(sessionID: "", localAddress: localAddress, remoteAddress: local ? nil : remote))
            }
            context.logger.notice("refused connection: \(refusal.lines[0])", metadata: ["smtp.client": "\(clientKey)"])
            return
        }
        defer { release(clientKey) }
        var connectionState = ConnectionState(sessionID: context.backend.generateSessionID(),
                                              localAddress: localAddress,
                                              remoteAddress: local ? nil : remote)
        if var original {
            original.sessionID = connectionState.sessionID
            connectionState.original = Box(original)
        }
        if let accept = configuration.acceptConnection, let refusal = accept(connectionState) {
            var wire = ByteBuffer()
            refusal.write(to: &wire)
            try? await io.write(NIOAny(wire))
            configuration.replyObserver?(refusal, connectionState)
            context.logger.notice("refused connection: \(refusal.lines.first ?? "")", metadata: ["smtp.client": "\(clientKey)"])
            return
        }
        let trusted = local || (remote.map { address in configuration.secureNetworks.contains { $0.contains(address) } } ?? false)
        let facts = ConnectionFacts(tlsActive: implicitTLS, trusted: trusted,
                                    xclientPermitted: context.backend is any ProxyBackend,
                                    xforwardPermitted: context.backend is any ProxyBackend)
        connectionState.tls = nil
        let handle = Conn(server: self, channel: channel, state: connectionState)
        let draining = state.withLock { state in
            state.handles[id] = handle
            return state.draining
        }
        defer { _ = state.withLock { $0.handles.removeValue(forKey: id) } }
        let connection = Connection(context: context, state: connectionState, facts: facts,
                                    io: io, handle: handle, draining: draining)
        // Cancelling the server's task closes the connection, which ends the connection's waits
        // for input (it reads with `nextUntilClosed`), so no wait needs a handler of its own.
        await withTaskCancellationHandler {
            await connection.run()
            await Self.lingeringClose(channel, io)
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    /// Closes our side first and drops what the client still sends until it closes too, for at
    /// most a second. Closing a socket whose input holds unread data makes the kernel send a
    /// reset, which can destroy the final reply (a 421) before the client reads it; Postfix and
    /// Apache linger the same way.
    private static func lingeringClose(_ channel: any Channel, _ io: ConnectionIO) async {
        guard channel.isActive else { return }
        do {
            try await channel.close(mode: .output)
        } catch {
            return   // not supported here (or already closed): the deferred close does it
        }
        let limit = channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
        defer { limit.cancel() }
        while case .some = try? await io.nextUntilClosed() {}
    }

    /// Applies the rate limiter and the connection limits; returns the 421 to send, or `nil`
    /// after counting the connection in.
    private func admit(_ key: String) -> Reply? {
        let hostname = configuration.session.hostname
        if let limiter = configuration.rateLimiter, case .limited(let retryAfter) = limiter.acquire(key: key) {
            let seconds = max(1, Int((retryAfter / .seconds(1)).rounded(.up)))
            return ServerReplies.rateLimited(hostname: hostname, client: key, retryAfterSeconds: seconds)
        }
        return state.withLock { state in
            if let limit = configuration.maximumConnections, state.served >= limit {
                return ServerReplies.tooManyConnections(hostname: hostname)
            }
            if let limit = configuration.maximumConnectionsPerClient, state.servedPerClient[key, default: 0] >= limit {
                return ServerReplies.tooManyConnections(hostname: hostname, client: key)
            }
            state.served += 1
            state.servedPerClient[key, default: 0] += 1
            return nil
        }
    }

    private func release(_ key: String) {
        state.withLock { state in
            state.served -= 1
            let remaining = state.servedPerClient[key, default: 1] - 1
            state.servedPerClient[key] = remaining > 0 ? remaining : nil
        }
    }

    /// The number of open connections.
    public var connectionCount: Int { state.withLock { $0.connections.count } }

    /// Handles on the open connections (go-smtp's `ForEachConn`).
    public var connections: [Conn] { state.withLock { Array($0.handles.values) } }

    /// Shuts down gracefully: stops accepting, closes idle connections with `421 4.3.2`, lets
    /// transactions in flight finish, and after `gracePeriod` closes whatever is left.
    public func shutdown(gracePeriod: Duration) async {
        let (listeners, channels) = state.withLock { state in
            state.draining = true
            return (state.listeners.map(\.listener), Array(state.connections.values))
        }
        for listener in listeners { listener.channel.close(promise: nil) }
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(ShutdownRequested()) }
        let deadline = ContinuousClock.now + gracePeriod
        while connectionCount > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        close()
    }

    /// Closes every listener and every connection at once (go-smtp's `Close`).
    public func close() {
        let (listeners, connections) = state.withLock { state in
            state.closed = true
            return (state.listeners.map(\.listener), Array(state.connections.values))
        }
        for listener in listeners { listener.channel.close(promise: nil) }
        for connection in connections { connection.close(promise: nil) }
    }
}

/// Unix-socket housekeeping.
enum UnixSocket {
    /// Removes `path` if it is a socket nobody listens on; throws if somebody does.
    static func removeIfStale(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw Server.ListenError.notASocket(path) }
        if isListening(path) { throw Server.ListenError.socketInUse(path) }
        unlink(path)
    }

    static func isListening(_ path: String) -> Bool {
        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard let address = try? SocketAddress(unixDomainSocketPath: path) else { return false }
        return address.withSockAddr { pointer, length in
            connect(fd, pointer, socklen_t(length)) == 0
        }
    }
}
