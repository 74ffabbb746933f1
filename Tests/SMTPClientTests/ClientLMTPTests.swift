import NIOCore
import SMTPClient
import SMTPCore
import SMTPServer
import Synchronization
import Testing
import TestSupport

@Suite("Client in LMTP mode over a Unix socket", .timeLimit(.minutes(1)))
struct ClientLMTPTests {
    static let server = Server.Configuration.test(ServerConfiguration(lmtp: true, hostname: "lmtp.test", enableBINARYMIME: true))

    func withLMTP(_ behaviour: Behaviour = Behaviour(), _ body: (Client.Endpoint, Recorder) async throws -> Void) async throws {
        var behaviour = behaviour
        behaviour.lmtp = true
        try await withTemporaryDirectory { directory in
            let path = directory + "/lmtp.sock"
            try await withServer(Self.server, behaviour: behaviour, endpoint: .unix(path: path)) { _, recorder, _ in
                try await body(.unix(path: path), recorder)
            }
        }
    }

    @Test("LHLO, then one status per recipient, duplicates included, in RCPT order")
    func statuses() async throws {
        try await withLMTP(Behaviour.lmtpMailboxStates) { endpoint, recorder in
            let client = try await Client.connect(to: endpoint, configuration: Client.Configuration(lmtp: true))
            #expect(client.isLMTP)
            let pipelining = try await client.extension("PIPELINING")
            #expect(pipelining != nil)
            let recipients = ["ok", "full", "gone", "ok"].map { Address(localPart: $0, domain: "x.test") }
            let (writer, rcpt) = try await client.beginMessage(from: .mailbox(Address("a@b.test")!), to: recipients)
            let allAccepted = rcpt.allSatisfy { $0.accepted }
            #expect(allAccepted)
            try await writer.write("Subject: lmtp\r\n\r\nbody\r\n")
            let statuses = try await writer.finishWithStatuses()
            #expect(statuses.map(\.recipient.localPart) == ["ok", "full", "gone", "ok"])
            #expect(statuses.map(\.reply.code) == [250, 452, 550, 250])
            #expect(statuses[1].error == SMTPError(code: 452, enhancedCode: EnhancedCode(4, 2, 2), message: "Mailbox full"))
            try await client.quit()
            #expect(recorder.messages.count == 1)
        }
    }

    @Test("the callback form reports each recipient; finish() throws the first refusal")
    func callbackAndFinish() async throws {
        try await withLMTP(Behaviour.lmtpMailboxStates) { endpoint, _ in
            let client = try await Client.connect(to: endpoint, configuration: Client.Configuration(lmtp: true))
            try await client.mail(from: "a@b.test")
            for name in ["ok", "gone"] { try await client.rcpt(to: Address(localPart: name, domain: "x.test")) }
            let writer = try await client.data()
            try await writer.write("x\r\n")
            var seen: [String] = []
            try await writer.finish { recipient, error in seen.append("\(recipient.localPart):\(error?.code ?? 250)") }
            #expect(seen == ["ok:250", "gone:550"])

            try await client.mail(from: "a@b.test")
            for name in ["ok", "full"] { try await client.rcpt(to: Address(localPart: name, domain: "x.test")) }
            let second = try await client.data()
            try await second.write("y\r\n")
            await #expect(throws: SMTPError(code: 452, enhancedCode: EnhancedCode(4, 2, 2), message: "Mailbox full")) {
                try await second.finish()
            }
            // Every status was read, so the session is in step.
            try await client.noop()
            try await client.quit()
        }
    }

    @Test("BDAT in LMTP: one status per recipient after the last chunk")
    func bdatStatuses() async throws {
        try await withLMTP(Behaviour.lmtpMailboxStates) { endpoint, recorder in
            let client = try await Client.connect(to: endpoint, configuration: Client.Configuration(lmtp: true))
            let (writer, _) = try await client.beginMessage(from: .null, to: [Address("ok@x.test")!, Address("gone@x.test")!],
                                                            mailOptions: MailOptions(body: .binaryMIME))
            try await writer.write(String(repeating: "binary\n", count: 400))
            let statuses = try await writer.finishWithStatuses()
            #expect(statuses.map(\.reply.code) == [250, 550])
            try await client.quit()
            #expect(recorder.messages.first?.body == String(repeating: "binary\n", count: 400))
        }
    }
}
