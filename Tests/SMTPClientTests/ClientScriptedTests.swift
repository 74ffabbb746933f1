import NIOCore
import SMTPClient
import SMTPCore
import Testing
import TestSupport

/// Behaviours of other servers, played by a scripted peer.
@Suite("Client against scripted servers", .timeLimit(.minutes(1)))
struct ClientScriptedTests {
    static func connect(_ server: ScriptedServer, _ configuration: Client.Configuration = Client.Configuration()) async throws -> Client {
        try await Client.connect(to: .tcp(host: "127.0.0.1", port: server.port), configuration: configuration)
    }

    @Test("EHLO refused with 502 falls back to HELO; other refusals do not")
    func heloFallback() async throws {
        let server = try await ScriptedServer.start { line in
            switch line.prefix(4) {
            case "EHLO": return "502 5.5.1 EHLO not implemented\r\n"
            case "HELO": return "250 old.test\r\n"
            case "QUIT": return "221 bye\r\n"
            default: return "250 ok\r\n"
            }
        }
        defer { Task { await server.stop() } }
        let client = try await Self.connect(server)
        try await client.noop()
        #expect(client.capabilities.entries.isEmpty)
        try await client.quit()
        #expect(server.lines.withLock { $0 }.prefix(3) == ["EHLO localhost", "HELO localhost", "NOOP"])

        let refusing = try await ScriptedServer.start { _ in "554 5.7.1 go away\r\n" }
        defer { Task { await refusing.stop() } }
        let refused = try await Self.connect(refusing)
        await #expect(throws: SMTPError(code: 554, enhancedCode: EnhancedCode(5, 7, 1), message: "go away")) { try await refused.noop() }
        #expect(refusing.lines.withLock { $0 } == ["EHLO localhost"])
        await refused.close()
    }

    @Test("a greeting other than 220 is an error")
    func badGreeting() async throws {
        let server = try await ScriptedServer.start(greeting: "554 5.3.2 not accepting mail\r\n") { _ in nil }
        defer { Task { await server.stop() } }
        await #expect(throws: SMTPError(code: 554, enhancedCode: EnhancedCode(5, 3, 2), message: "not accepting mail")) {
            _ = try await Self.connect(server)
        }
    }

    @Test("a multi-line refusal keeps every line of its text")
    func multiLineError() async throws {
        let server = try await ScriptedServer.start { line in
            line.hasPrefix("EHLO") ? "250 ok\r\n" : "550-5.7.1 first line\r\n550-5.7.1 second line\r\n550 5.7.1 third line\r\n"
        }
        defer { Task { await server.stop() } }
        let client = try await Self.connect(server)
        await #expect(throws: SMTPError(code: 550, enhancedCode: EnhancedCode(5, 7, 1), message: "first line\nsecond line\nthird line")) {
            try await client.mail(from: "a@b.test")
        }
        await client.close()
    }

    @Test("STARTTLS response injection: bytes after the 220 abort the connection")
    func startTLSInjection() async throws {
        let server = try await ScriptedServer.start { line in
            switch line {
            case "EHLO localhost": return "250-injected.test\r\n250 STARTTLS\r\n"
            // The 220 and a forged reply in one write, as an attacker on the path would do.
            case "STARTTLS": return "220 2.0.0 go ahead\r\n250 2.1.0 forged reply to a command not sent yet\r\n"
            default: return "250 ok\r\n"
            }
        }
        defer { Task { await server.stop() } }
        let client = try await Self.connect(server)
        await #expect(throws: SMTPClientError.startTLSResponseInjection) { try await client.startTLS() }
        await #expect(throws: SMTPClientError.connectionClosed) { try await client.noop() }
    }

    @Test("with PIPELINING the whole envelope goes out before any reply is read")
    func pipelining() async throws {
        // This server answers nothing until DATA arrives: a client that waited for the MAIL
        // reply would time out. 30 s, not less: the timeout only decides how long such a
        // client takes to fail, and a full test run (eighty letterbox processes at once in
        // other suites, on two cores) has kept this task from reading its replies for 5 s.
        let server = try await ScriptedServer.start { line in
            switch line {
            case "EHLO localhost": return "250-pipe.test\r\n250 PIPELINING\r\n"
            case "DATA": return "250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 unknown\r\n354 go on\r\n"
            case ".": return "250 2.0.0 queued\r\n"
            case "QUIT": return "221 bye\r\n"
            default: return nil
            }
        }
        defer { Task { await server.stop() } }
        var configuration = Client.Configuration()
        configuration.commandTimeout = .seconds(30)
        let client = try await Self.connect(server, configuration)
        let (writer, statuses) = try await client.beginMessage(from: .null, to: [Address("a@x.test")!, Address("b@x.test")!])
        #expect(statuses.map(\.reply.code) == [250, 550])
        try await writer.write("hello\r\n")
        #expect(try await writer.finish().code == 250)
        try await client.quit()
        #expect(server.lines.withLock { $0 } == ["EHLO localhost", "MAIL FROM:<>", "RCPT TO:<a@x.test>", "RCPT TO:<b@x.test>",
                                                 "DATA", "hello", ".", "QUIT"])
    }

    @Test("a server that does not answer: the command timeout closes the connection")
    func timeout() async throws {
        let server = try await ScriptedServer.start { line in line.hasPrefix("EHLO") ? "250 ok\r\n" : nil }
        defer { Task { await server.stop() } }
        var configuration = Client.Configuration()
        configuration.commandTimeout = .seconds(3)
        // The server answers the greeting and EHLO at once, so a timeout there means this task
        // was held up (the whole suite runs on two cores): that try is void, up to three.
        var connected: Client?
        for _ in 1...3 where connected == nil {
            do {
                let client = try await Self.connect(server, configuration)
                try await client.hello("client.test")
                connected = client
            } catch SMTPClientError.timeout {
                continue
            }
        }
        let client = try #require(connected, "three tries held up past the command timeout before EHLO's reply")
        let start = ContinuousClock.now
        await #expect(throws: SMTPClientError.timeout) { try await client.noop() }
        #expect(ContinuousClock.now - start < .seconds(15))
        await #expect(throws: (any Error).self) { try await client.noop() }
    }

    @Test("the server closing mid-command is connectionClosed")
    func closed() async throws {
        let server = try await ScriptedServer.start { line in line.hasPrefix("EHLO") ? "250 ok\r\n" : "<close>" }
        defer { Task { await server.stop() } }
        let client = try await Self.connect(server)
        await #expect(throws: SMTPClientError.connectionClosed) { try await client.noop() }
    }
}
