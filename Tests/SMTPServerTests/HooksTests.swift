import NIOCore
import SMTPCore
import SMTPServer
import Synchronization
import Testing
import TestSupport

/// The operators' hooks: a connection-accept hook that refuses before the greeting, and a
/// reply observer that sees every reply the server sends.
@Suite("Server hooks", .timeLimit(.minutes(1)))
struct HooksTests {
    @Test("the accept hook refuses before the greeting with its reply and closes; a nil answer lets the client in")
    func acceptHook() async throws {
        let asked = Mutex<[String]>([])
        var configuration = Server.Configuration.test()
        configuration.acceptConnection = { state in
            asked.withLock { $0.append(state.remoteAddress?.ipAddress ?? "none") }
            return asked.withLock { $0.count } == 1
                ? Reply(code: 554, enhancedCode: EnhancedCode(5, 7, 1), text: "Access denied") : nil
        }
        try await withServer(configuration) { address, recorder, _ in
            try await TestClient.with(address) { client in
                let received = try await client.readUntilClosed()
                #expect(received == ["554 5.7.1 Access denied"])
            }
            try await TestClient.with(address) { client in
                #expect(try await client.reply() == "220 mx.test ESMTP Letterbox")
                try await client.command("EHLO c")
            }
            #expect(recorder.messages.isEmpty)
        }
        #expect(asked.withLock { $0 } == ["127.0.0.1", "127.0.0.1"])
    }

    @Test("the reply observer sees every reply: greeting, commands, each LMTP recipient's, and a refusal before the greeting")
    func replyObserver() async throws {
        let seen = Mutex<[Int]>([])
        var configuration = Server.Configuration.test(ServerConfiguration(lmtp: true, hostname: "mx.test"))
        configuration.replyObserver = { reply, _ in seen.withLock { $0.append(reply.code) } }
        configuration.acceptConnection = { _ in seen.withLock { $0.count } > 100 ? Reply(code: 421, text: "busy") : nil }
        var behaviour = Behaviour.lmtpMailboxStates
        behaviour.lmtp = true
        try await withServer(configuration, behaviour: behaviour) { address, _, _ in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.command("LHLO c")
                try await client.command("MAIL FROM:<a@b.test>")
                try await client.command("RCPT TO:<ok@x.test>")
                try await client.command("RCPT TO:<full@x.test>")
                try await client.command("DATA")
                try await client.send("body\r\n.\r\n")
                _ = try await client.reply()
                _ = try await client.reply()
                try await client.command("QUIT")
            }
        }
        #expect(seen.withLock { $0 } == [220, 250, 250, 250, 250, 354, 250, 452, 221])
    }
}
