import NIOCore
import SMTPClient
import SMTPCore
import SMTPServer
import Synchronization
import Testing
import TestSupport

/// go-smtp's client surface: raw commands, XCLIENT, hello after reset, and the LMTP status
/// callback as each reply arrives.
@Suite("Client commands", .timeLimit(.minutes(2)))
struct ClientCommandTests {
    static func connect(_ server: ScriptedServer) async throws -> Client {
        try await Client.connect(to: .tcp(host: "127.0.0.1", port: server.port))
    }

    @Test("rawCommand sends one line and returns any reply, multi-line included; lines with CR/LF and managed verbs are refused unsent")
    func rawCommand() async throws {
        let server = try await ScriptedServer.start { line in
            switch line.prefix(4) {
            case "EHLO": return "250-scripted.test\r\n250 ETRN\r\n"
            case "ETRN": return "250-Queuing started\r\n250 for example.org\r\n"
            case "XFOO": return "502 5.5.2 what\r\n"
            case "QUIT": return "221 bye\r\n"
            default: return "250 ok\r\n"
            }
        }
        defer { Task { await server.stop() } }
        let client = try await Self.connect(server)
        let etrn = try await client.rawCommand("ETRN example.org")
        #expect(etrn.code == 250 && etrn.lines == ["Queuing started", "for example.org"])
        let refused = try await client.rawCommand("XFOO bar")
        #expect(refused.code == 502 && refused.enhancedCode == EnhancedCode(5, 5, 2))
        for line in ["NOOP\r\nRSET", "NOOP\nQUIT", "", "MAIL FROM:<a@b.test>", "rcpt TO:<c@d.test>", "QUIT", "STARTTLS", "EHLO x"] {
            await #expect(throws: SMTPClientError.self, "\(line)") { _ = try await client.rawCommand(line) }
        }
        try await client.quit()
        #expect(server.lines.withLock { $0 } == ["EHLO localhost", "ETRN example.org", "XFOO bar", "QUIT"])
    }

    @Test("xclient sends the attributes xtext-encoded, takes the new greeting, and greets again before the next command")
    func xclient() async throws {
        let server = try await ScriptedServer.start { line in
            switch line.prefix(4) {
            case "EHLO": return "250-scripted.test\r\n250 XCLIENT NAME ADDR LOGIN\r\n"
            case "XCLI": return line.contains("LOGIN=bad") ? "550 5.7.0 no\r\n" : "220 scripted.test ESMTP again\r\n"
            case "QUIT": return "221 bye\r\n"
            default: return "250 ok\r\n"
            }
        }
        defer { Task { await server.stop() } }
        let client = try await Self.connect(server)
        try await client.xclient([("NAME", "spike.porcupine.org"), ("ADDR", "168.100.189.2"), ("LOGIN", "wietse+x=y")])
        #expect(client.capabilities.entries.isEmpty)   // forgotten until the next EHLO
        try await client.noop()
        #expect(try await client.extension("XCLIENT") != nil)
        await #expect(throws: SMTPClientError.extensionNotSupported("XCLIENT PROTO")) { try await client.xclient([("PROTO", "ESMTP")]) }
        await #expect(throws: SMTPClientError.self) { try await client.xclient([("COLOUR", "blue")]) }
        await #expect(throws: SMTPError.self) { try await client.xclient([("LOGIN", "bad")]) }
        try await client.quit()
        #expect(server.lines.withLock { $0 } == ["EHLO localhost", "XCLIENT NAME=spike.porcupine.org ADDR=168.100.189.2 LOGIN=wietse+2Bx+3Dy",
                                                 "EHLO localhost", "NOOP", "XCLIENT LOGIN=bad", "QUIT"])
    }

    @Test("hello twice fails, but hello after reset greets again with the new name")
    func helloAfterReset() async throws {
        let server = try await ScriptedServer.start { line in
            line.hasPrefix("QUIT") ? "221 bye\r\n" : "250 ok\r\n"
        }
        defer { Task { await server.stop() } }
        let client = try await Self.connect(server)
        try await client.hello("first.test")
        await #expect(throws: SMTPClientError.helloAlreadySent) { try await client.hello("again.test") }
        try await client.reset()
        try await client.hello("second.test")
        await #expect(throws: SMTPClientError.helloAlreadySent) { try await client.hello("third.test") }
        try await client.quit()
        #expect(server.lines.withLock { $0 } == ["EHLO first.test", "RSET", "EHLO second.test", "QUIT"])
    }

    @Test("a custom extension over a real socket: announced, its RCPT parameter sent by the client and handed to the backend; others 555")
    func customExtension() async throws {
        var configuration = Server.Configuration.test()
        configuration.session.customExtensions = [CustomExtension(keyword: "XRCPTFORWARD", rcptParameters: ["XRCPTFORWARD"])]
        try await withServer(configuration) { address, recorder, _ in
            let client = try await Client.connect(to: .tcp(host: "127.0.0.1", port: address.port!))
            #expect(try await client.extension("XRCPTFORWARD") != nil)
            try await client.mail(from: "a@b.test")
            var forwarded = RcptOptions()
            forwarded.extensions = [ESMTPParameter(keyword: "XRCPTFORWARD", value: "dXNlcj1ib2I=")]
            try await client.rcpt(to: Address("c@d.test")!, options: forwarded)
            var unknown = RcptOptions()
            unknown.extensions = [ESMTPParameter(keyword: "IGNOREQUOTA")]
            await #expect(throws: SMTPError(code: 555, enhancedCode: EnhancedCode(5, 5, 4), message: "Unsupported parameter: IGNOREQUOTA")) {
                try await client.rcpt(to: Address("e@d.test")!, options: unknown)
            }
            let writer = try await client.data()
            try await writer.write("Subject: x\r\n\r\nbody\r\n")
            try await writer.finish()
            try await client.quit()
            #expect(recorder.messages.first?.rcptOptions.map(\.extensions) == [[ESMTPParameter(keyword: "XRCPTFORWARD", value: "dXNlcj1ib2I=")]])
        }
    }

    /// The test backend, allowing XCLIENT and XFORWARD from anyone.
    struct TrustingBackend: ProxyBackend {
        let inner: TestBackend
        func anonymousLogin(state: ConnectionState, sessionID: String) async throws -> any Session {
            try await inner.anonymousLogin(state: state, sessionID: sessionID)
        }
        func allowProxy(actual: ConnectionState, asserted: ConnectionState, sessionID: String) -> Bool { true }
    }

    @Test("xforward against our server: the attributes reach the session before the next transaction; a server without XFORWARD is an error before sending")
    func xforward() async throws {
        try await withServer(backend: { TrustingBackend(inner: $0) }) { address, recorder, _ in
            let client = try await Client.connect(to: .tcp(host: "127.0.0.1", port: address.port!))
            try await client.xforward([XForwardAttribute(name: .address, value: .value("IPV6:2001:db8::7")),
                                       XForwardAttribute(name: .helo, value: .value("a b")),
                                       XForwardAttribute(name: .name, value: .temporarilyUnavailable)])
            try await client.mail(from: "a@b.test")
            try await client.rcpt(to: "c@d.test")
            await #expect(throws: SMTPError(code: 503, enhancedCode: EnhancedCode(5, 5, 1), message: "Error: MAIL transaction in progress")) {
                try await client.xforward([XForwardAttribute(name: .ident, value: .value("late"))])
            }
            let writer = try await client.data()
            try await writer.write("Subject: x\r\n\r\nbody\r\n")
            try await writer.finish()
            try await client.quit()
            let forwarded = try #require(recorder.forwarded.first)
            #expect(forwarded.address == "2001:db8::7" && forwarded.helo == "a b" && forwarded.name == nil)
            #expect(forwarded.attributes.last?.value == .temporarilyUnavailable)
        }
        try await withServer { address, _, _ in
            let client = try await Client.connect(to: .tcp(host: "127.0.0.1", port: address.port!))
            await #expect(throws: SMTPClientError.extensionNotSupported("XFORWARD")) {
                try await client.xforward([XForwardAttribute(name: .address, value: .value("192.0.2.1"))])
            }
            try await client.quit()
        }
    }

    @Test("DELIVERBY, MT-PRIORITY and RRVS over a real socket: sent when offered and handed to the backend; otherwise dropped where the RFCs let delivery go on, an error where they do not")
    func deliverByPriorityRRVS() async throws {
        let by = DeliverBy(seconds: 600, mode: .returnMessage, trace: true)
        let since = try #require(RecipientValidSince("2014-04-03T23:01:00Z"))
        var offering = Server.Configuration.test()
        offering.session.enableDELIVERBY = true
        offering.session.minimumDeliverByTime = 60
        offering.session.enableMTPRIORITY = true
        offering.session.enableRRVS = true
        try await withServer(offering) { address, recorder, _ in
            let client = try await Client.connect(to: .tcp(host: "127.0.0.1", port: address.port!))
            #expect(try await client.extension("DELIVERBY")?.parameters == ["60"])
            try await client.mail(from: "a@b.test", options: MailOptions(deliverBy: by, priority: -3))
            try await client.rcpt(to: "c@d.test", options: RcptOptions(recipientValidSince: since))
            let writer = try await client.data()
            try await writer.write("Subject: x\r\n\r\nbody\r\n")
            try await writer.finish()
            // Under min-by-time with R: the server's 555, not a client-side guess.
            let short = MailOptions(deliverBy: DeliverBy(seconds: 30, mode: .returnMessage))
            await #expect(throws: SMTPError(code: 555, enhancedCode: EnhancedCode(5, 5, 4),
                                            message: "Error: BY time less than the minimum of 60 seconds")) {
                try await client.mail(from: "a@b.test", options: short)
            }
            try await client.quit()
            let message = try #require(recorder.messages.first)
            #expect(message.mailOptions.deliverBy == by && message.mailOptions.priority == -3)
            #expect(message.rcptOptions.map(\.recipientValidSince) == [since])
        }
        try await withServer(.test()) { address, recorder, _ in
            let client = try await Client.connect(to: .tcp(host: "127.0.0.1", port: address.port!))
            await #expect(throws: SMTPClientError.extensionNotSupported("DELIVERBY")) {
                try await client.mail(from: "a@b.test", options: MailOptions(deliverBy: by))
            }
            try await client.mail(from: "a@b.test", options: MailOptions(deliverBy: DeliverBy(seconds: 600, mode: .notify), priority: 5))
            await #expect(throws: SMTPClientError.extensionNotSupported("RRVS")) {
                try await client.rcpt(to: "c@d.test", options: RcptOptions(recipientValidSince: since))
            }
            let continuing = try #require(RecipientValidSince("2014-04-03T23:01:00Z;C"))
            try await client.rcpt(to: "c@d.test", options: RcptOptions(recipientValidSince: continuing))
            let writer = try await client.data()
            try await writer.write("Subject: x\r\n\r\nbody\r\n")
            try await writer.finish()
            try await client.quit()
            let message = try #require(recorder.messages.first)
            #expect(message.mailOptions.deliverBy == nil && message.mailOptions.priority == nil)
            #expect(message.rcptOptions.map(\.recipientValidSince) == [nil])
        }
    }

    /// An LMTP backend that answers the first recipient at once and the second only once the
    /// client has reported the first (or after 45 s, noted as `waitedOut`): a client that
    /// called back only after reading every reply would make it wait out.
    final class SecondWaitsForFirstBackend: Backend, Sendable {
        let firstReported = Atomic(false)
        let waitedOut = Atomic(false)

        final class Session: LMTPSession {
            let backend: SecondWaitsForFirstBackend
            init(_ backend: SecondWaitsForFirstBackend) { self.backend = backend }
            func mail(from: ReversePath, options: MailOptions) async throws {}
            func rcpt(to: Address, options: RcptOptions) async throws {}
            func data(_ body: MessageBody) async throws {}
            func lmtpData(_ body: MessageBody, status: StatusCollector) async throws {
                _ = try await body.collect(upTo: 1 << 20)
                _ = status.setStatus(at: 0, nil)
                var waited = 0
                while !backend.firstReported.load(ordering: .acquiring) {
                    if waited >= 450 {
                        backend.waitedOut.store(true, ordering: .releasing)
                        break
                    }
                    try await Task.sleep(for: .milliseconds(100))
                    waited += 1
                }
                _ = status.setStatus(at: 1, SMTPError(code: 452, enhancedCode: EnhancedCode(4, 2, 2), message: "Mailbox full"))
            }
            func reset() async {}
            func logout() async {}
        }

        func anonymousLogin(state: ConnectionState, sessionID: String) async throws -> any SMTPServer.Session { Session(self) }
    }

    @Test("the LMTP status callback fires for each recipient as its reply arrives, not after the last")
    func statusAsItArrives() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/lmtp.sock"
            let configuration = Server.Configuration.test(ServerConfiguration(lmtp: true, hostname: "lmtp.test"))
            let backend = SecondWaitsForFirstBackend()
            try await withServer(configuration, endpoint: .unix(path: path), backend: { _ in backend }) { _, _, _ in
                let client = try await Client.connect(to: .unix(path: path), configuration: Client.Configuration(lmtp: true))
                let (writer, _) = try await client.beginMessage(from: .mailbox(Address("a@b.test")!),
                                                                to: [Address("ok@x.test")!, Address("full@x.test")!])
                try await writer.write("Subject: slow\r\n\r\nbody\r\n")
                let seen = Mutex<[String]>([])
                try await writer.finish { recipient, error in
                    seen.withLock { $0.append("\(recipient.localPart):\(error?.code ?? 250)") }
                    backend.firstReported.store(true, ordering: .releasing)
                }
                #expect(seen.withLock { $0 } == ["ok:250", "full:452"])
                // The second reply was sent only after the first had been reported.
                let waitedOut = backend.waitedOut.load(ordering: .acquiring)
                #expect(!waitedOut)
                try await client.quit()
            }
        }
    }
}
