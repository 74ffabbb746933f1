import Logging
import NIOCore
import SMTPCore
import SMTPServer

/// Runs a real server on a loopback port (or a Unix socket) for the duration of `body`.
public func withServer<T>(
    _ configuration: Server.Configuration = .test(),
    behaviour: Behaviour = Behaviour(),
    endpoint: Server.Endpoint = .tcp(host: "127.0.0.1", port: 0),
    backend makeBackend: ((TestBackend) -> any Backend)? = nil,
    logger customLogger: Logger? = nil,
    _ body: (SocketAddress, Recorder, Server) async throws -> T
) async throws -> T {
    let recorder = Recorder()
    var logger = customLogger ?? Logger(label: "test.server")
    if customLogger == nil { logger.logLevel = .critical }
    let testBackend = TestBackend(recorder: recorder, behaviour: behaviour)
    let server = Server(backend: makeBackend?(testBackend) ?? testBackend, configuration: configuration, logger: logger)
    let address = try await server.listen(endpoint)!
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
    /// forgets ends by itself, and long enough that no connection a test keeps idle on purpose
    /// times out under CI's load (where 10 s once passed between two steps of one test).
    /// Tests of the timeout set their own.
    public static func test(_ session: SMTPCore.ServerConfiguration = SMTPCore.ServerConfiguration(hostname: "mx.test")) -> Self {
        Server.Configuration(session: session, readTimeout: .seconds(30))
    }
}
