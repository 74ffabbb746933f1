import Logging
import NIOCore
import NIOPosix
import SMTPCore
import SMTPServer
import ServiceLifecycle
import Testing
import TestSupport

@Suite("Graceful shutdown and connection handles", .timeLimit(.minutes(1)))
struct ShutdownTests {
    /// A transaction in flight and an idle connection when `trigger` starts a graceful
    /// shutdown: the idle one gets 421 at once, the transaction finishes, then its connection
    /// gets 421 too.
    static func drain(_ address: SocketAddress, _ recorder: Recorder, trigger: @escaping @Sendable () async -> Void) async throws {
        try await TestClient.with(address) { busy in
            try await busy.reply()
            try await busy.command("EHLO busy")
            try await busy.command("MAIL FROM:<a@b.test>")
            try await busy.command("RCPT TO:<c@d.test>")
            try await busy.command("DATA")
            try await busy.send("first half\r\n")
            try await TestClient.with(address) { idle in
                try await idle.reply()
                try await idle.command("EHLO idle")
                async let shutdown: Void = trigger()
                #expect(try await idle.readUntilClosed() == ["421 4.3.2 mx.test Service shutting down, closing connection"])
                try await busy.send("second half\r\n.\r\n")
                // The transaction completes; then the connection closes at once.
                #expect(try await busy.readUntilClosed() == ["250 2.0.0 Ok: queued",
                                                             "421 4.3.2 mx.test Service shutting down, closing connection"])
                await shutdown
            }
        }
        #expect(recorder.messages.map(\.body) == ["first half\r\nsecond half\r\n"])
    }

    @Test("shutdown closes idle connections with 421 and lets a transaction in flight finish")
    func graceful() async throws {
        try await withServer { address, recorder, server in
            try await Self.drain(address, recorder) { await server.shutdown(gracePeriod: .seconds(20)) }
            #expect(server.connectionCount == 0)
        }
    }

    @Test("in a ServiceGroup, the group's graceful shutdown drains the server as shutdown(gracePeriod:) does, and run returns")
    func serviceGroup() async throws {
        let recorder = Recorder()
        var logger = Logger(label: "test.group")
        logger.logLevel = .critical
        var configuration = Server.Configuration.test()
        configuration.shutdownGracePeriod = .seconds(20)
        let server = Server(backend: TestBackend(recorder: recorder, behaviour: Behaviour()), configuration: configuration, logger: logger)
        let address = try #require(try await server.listen(.tcp(host: "127.0.0.1", port: 0)))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [.init(service: server)], logger: logger))
        let running = Task { try await group.run() }
        try await Self.drain(address, recorder) { await group.triggerGracefulShutdown() }
        try await running.value
        #expect(server.connectionCount == 0)
    }

    @Test("shutdown closes what is left after the grace period")
    func deadline() async throws {
        try await withServer { address, _, server in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.command("EHLO c")
                try await client.command("MAIL FROM:<a@b.test>")
                let start = ContinuousClock.now
                await server.shutdown(gracePeriod: .milliseconds(200))
                // Far above the grace period: a shutdown that waited for the client would hang.
                #expect(ContinuousClock.now - start < .seconds(30))
                #expect(try await client.readUntilClosed().isEmpty)
            }
        }
    }

    @Test("connection handles: enumerate, write a response, reject")
    func handles() async throws {
        try await withServer { address, _, server in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.command("EHLO handle.test")
                let connections = server.connections
                #expect(connections.count == 1)
                let conn = try #require(connections.first)
                #expect(conn.state.hostname == "handle.test")
                #expect(conn.state.remoteAddress?.ipAddress == "127.0.0.1")
                #expect(conn.tlsConnectionState == nil)
                conn.writeResponse(code: 250, enhancedCode: EnhancedCode(2, 0, 0), text: "notice")
                #expect(try await client.reply() == "250 2.0.0 notice")
                conn.reject()
                #expect(try await client.readUntilClosed() == ["421 4.4.5 Too busy. Try again later."])
            }
        }
    }
}
