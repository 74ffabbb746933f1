import Logging
import NIOCore
import NIOPosix
import SMTPCore
import SMTPServer

/// Runs a real server on a loopback port (or a Unix socket) for the duration of `body`.
public func withServer<T>(
    _ configuration: Server.Configuration = .test(),
    behaviour: Behaviour = Behaviour(),
    endpoint: Server.Endpoint = .tcp(host: "127.0.0.1", port: 0),
    proxyProtocol: Server.ProxyProtocol? = nil,
    backend makeBackend: ((TestBackend) -> any Backend)? = nil,
    logger customLogger: Logger? = nil,
    eventLoopGroup: (any EventLoopGroup)? = nil,
    _ body: (SocketAddress, Recorder, Server) async throws -> T
) async throws -> T {
    let recorder = Recorder()
    var logger = customLogger ?? Logger(label: "test.server")
    if customLogger == nil { logger.logLevel = .critical }
    let testBackend = TestBackend(recorder: recorder, behaviour: behaviour)
    let server = Server(backend: makeBackend?(testBackend) ?? testBackend, configuration: configuration, logger: logger,
                        eventLoopGroup: eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton)
    let address = try await server.listen(endpoint, proxyProtocol: proxyProtocol)!
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        do {
            let result = try await body(address, recorder, server)
            server.close()
            try await group.waitForAll()
            return result
        } catch {
            server.close()
            try? await group.waitForAll()
            throw error
        }
    }
}

extension Server.Configuration {
    /// A configuration for tests, with a read timeout short enough that a connection a test
    /// forgets ends by itself, and long enough that no client is cut off while the whole suite
    /// runs on two cores (where a client's task has waited 30 s for its turn while large
    /// messages were encoded beside it). Tests of the timeout set their own.
    public static func test(_ session: SMTPCore.ServerConfiguration = SMTPCore.ServerConfiguration(hostname: "mx.test")) -> Self {
        Server.Configuration(session: session, readTimeout: .seconds(120))
    }
}

/// Runs `body` with an event loop group of one thread of its own, shut down afterwards: for a
/// test whose server streams many megabytes, so that the work does not hold up the shared
/// loops every other test's servers and clients run on while the suite runs in parallel.
public func withPrivateEventLoop<T>(_ body: (any EventLoopGroup) async throws -> T) async throws -> T {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    do {
        let result = try await body(group)
        try await group.shutdownGracefully()
        return result
    } catch {
        try? await group.shutdownGracefully()
        throw error
    }
}
