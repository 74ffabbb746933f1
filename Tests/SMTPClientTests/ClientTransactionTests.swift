import NIOCore
import NIOPosix
import SMTPClient
import SMTPCore
import SMTPServer
import Synchronization
import Testing
import TestSupport

/// The client against our own server over a real socket.
@Suite("Client transactions against our server", .timeLimit(.minutes(1)))
struct ClientTransactionTests {
    static func endpoint(_ address: SocketAddress) -> Client.Endpoint {
        .tcp(host: "127.0.0.1", port: address.port!)
    }

    @Test("greeting, EHLO, extension(), maxMessageSize(), supportsAuth(); HELO only once")
    func hello() async throws {
        let session = ServerConfiguration(hostname: "mx.test", maximumMessageBytes: 10_000, allowInsecureAuth: true, enableDSN: true)
        try await withServer(.test(session)) { address, _, _ in
            let client = try await Client.connect(to: Self.endpoint(address))
            #expect(client.greeting.code == 220)
            #expect(try await client.extension("size")?.parameters == ["10000"])
            #expect(try await client.extension("DSN") != nil)
            #expect(try await client.extension("BINARYMIME") == nil)
            #expect(try await client.maxMessageSize() == 10_000)
            #expect(try await client.supportsAuth("plain"))
            #expect(try await client.supportsAuth("CRAM-MD5") == false)
            await #expect(throws: SMTPClientError.helloAlreadySent) { try await client.hello("again.test") }
            try await client.noop()
            try await client.quit()
        }
    }

    @Test("a transaction: 8BITMIME added, dot-stuffing and CRLF normalisation, recipients kept until RSET")
    func transaction() async throws {
        try await withServer { address, recorder, _ in
            let client = try await Client.connect(to: Self.endpoint(address))
            try await client.hello("client.test")
            try await client.mail(from: "alice@example.org")
            try await client.rcpt(to: "bob@example.net")
            try await client.rcpt(to: Address(localPart: "carol", domain: "example.net"))
            #expect(client.recipients.map(\.description) == ["bob@example.net", "carol@example.net"])
            let writer = try await client.data()
            try await writer.write("Subject: dots\n\n.leading dot\r\n")
            try await writer.write("..two\rbare CR\nno final newline")
            let reply = try await writer.finish()
            #expect(reply.code == 250)
            #expect(client.recipients.count == 2)
            try await client.reset()
            #expect(client.recipients.isEmpty)
            try await client.quit()
            let message = try #require(recorder.messages.first)
            #expect(message.mailOptions.body == .eightBitMIME)
            #expect(message.recipients.count == 2)
            #expect(message.body == "Subject: dots\r\n\r\n.leading dot\r\n..two\r\nbare CR\r\nno final newline\r\n")
        }
    }

    @Test("a message much larger than any buffer streams through")
    func largeMessage() async throws {
        // On a loop of its own, so that encoding 4 MiB does not hold up other tests' loops.
        try await withPrivateEventLoop { loop in
            try await withServer(eventLoopGroup: loop) { address, recorder, _ in
                let client = try await Client.connect(to: Self.endpoint(address), eventLoopGroup: loop)
                try await client.mail(from: "a@b.test")
                try await client.rcpt(to: "c@d.test")
                let writer = try await client.data()
                let line = String(repeating: "x", count: 998) + "\r\n"
                for _ in 0..<4096 { try await writer.write(line) }   // 4 MiB
                try await writer.finish()
                try await client.quit()
                #expect(recorder.messages.first?.body.utf8.count == 4096 * 1000)
            }
        }
    }

    @Test("refusals: sender and recipient errors carry code, enhanced code and text; the session goes on")
    func refusals() async throws {
        var behaviour = Behaviour()
        behaviour.rejectSender = { $0.address?.localPart == "spammer" ? SMTPError(code: 550, enhancedCode: EnhancedCode(5, 7, 1), message: "Go away") : nil }
        behaviour.rejectRecipient = { $0.localPart == "nobody" ? SMTPError(code: 550, enhancedCode: EnhancedCode(5, 1, 1), message: "No such user") : nil }
        try await withServer(behaviour: behaviour) { address, _, _ in
            let client = try await Client.connect(to: Self.endpoint(address))
            await #expect(throws: SMTPError(code: 550, enhancedCode: EnhancedCode(5, 7, 1), message: "Go away")) {
                try await client.mail(from: "spammer@example.org")
            }
            try await client.mail(from: "alice@example.org")
            await #expect(throws: SMTPError(code: 550, enhancedCode: EnhancedCode(5, 1, 1), message: "No such user")) {
                try await client.rcpt(to: "nobody@example.net")
            }
            #expect(client.recipients.isEmpty)
            await #expect(throws: SMTPClientError.self) { _ = try await client.data() }
            try await client.rcpt(to: "bob@example.net")
            let writer = try await client.data()
            try await writer.write("hi\r\n")
            try await writer.finish()
            try await client.quit()
        }
    }

    @Test("beginMessage pipelines the envelope and reports each recipient; all refused is an error")
    func pipelinedEnvelope() async throws {
        var behaviour = Behaviour()
        behaviour.rejectRecipient = { $0.localPart.hasPrefix("no") ? SMTPError(code: 550, enhancedCode: EnhancedCode(5, 1, 1), message: "unknown") : nil }
        try await withServer(behaviour: behaviour) { address, recorder, _ in
            let client = try await Client.connect(to: Self.endpoint(address))
            let recipients = ["yes1@x.test", "no1@x.test", "yes2@x.test"].map { Address($0)! }
            let (writer, statuses) = try await client.beginMessage(from: .mailbox(Address("a@b.test")!), to: recipients)
            #expect(statuses.map(\.accepted) == [true, false, true])
            #expect(statuses[1].error?.enhancedCode == EnhancedCode(5, 1, 1))
            try await writer.write("body\r\n")
            try await writer.finish()
            #expect(recorder.messages.first?.recipients.map(\.localPart) == ["yes1", "yes2"])
            await #expect(throws: SMTPClientError.self) {
                _ = try await client.beginMessage(from: .null, to: [Address("no2@x.test")!])
            }
            // The session is still in step: another transaction works.
            let (second, _) = try await client.beginMessage(from: .null, to: [Address("yes3@x.test")!])
            try await second.write("again\r\n")
            try await second.finish()
            try await client.quit()
            #expect(recorder.messages.count == 2)
        }
    }

    @Test("SMTPUTF8 is announced for non-ASCII addresses, and refused when the server lacks it")
    func smtpUTF8() async throws {
        try await withServer { address, recorder, _ in
            let client = try await Client.connect(to: Self.endpoint(address))
            let (writer, _) = try await client.beginMessage(from: .mailbox(Address("jöran@example.org")!), to: [Address("用户@例子.test")!])
            try await writer.write("hej\r\n")
            try await writer.finish()
            try await client.quit()
            #expect(recorder.messages.first?.mailOptions.utf8 == true)
            #expect(recorder.messages.first?.recipients.first?.localPart == "用户")
        }
        try await withServer(.test(ServerConfiguration(hostname: "mx.test", enableSMTPUTF8: false))) { address, recorder, _ in
            let client = try await Client.connect(to: Self.endpoint(address))
            await #expect(throws: SMTPClientError.extensionNotSupported("SMTPUTF8")) { try await client.mail(from: "jöran@example.org") }
            try await client.mail(from: "joran@example.org")
            await #expect(throws: SMTPClientError.extensionNotSupported("SMTPUTF8")) { try await client.rcpt(to: "用户@例子.test") }
            try await client.quit()
            #expect(recorder.messages.isEmpty)
        }
    }

    @Test("DSN parameters reach the backend decoded; REQUIRETLS needs the extension")
    func dsnParameters() async throws {
        try await withServer(.test(ServerConfiguration(hostname: "mx.test", enableDSN: true))) { address, recorder, _ in
            let client = try await Client.connect(to: Self.endpoint(address))
            await #expect(throws: SMTPClientError.extensionNotSupported("REQUIRETLS")) {
                try await client.mail(from: "a@b.test", options: MailOptions(requireTLS: true))
            }
            try await client.mail(from: "a@b.test", options: MailOptions(size: 6, dsnReturn: .headers, envelopeID: "id+1=2"))
            try await client.rcpt(to: "c@d.test", options: RcptOptions(notify: [.success, .failure],
                                                                      originalRecipient: OriginalRecipient(address: "c+x@d.test")))
            let writer = try await client.data()
            try await writer.write("body\r\n")
            try await writer.finish()
            try await client.quit()
            let message = try #require(recorder.messages.first)
            #expect(message.mailOptions.dsnReturn == .headers)
            #expect(message.mailOptions.envelopeID == "id+1=2")
            #expect(message.mailOptions.size == 6)
            #expect(message.rcptOptions.first?.notify == [.success, .failure])
            #expect(message.rcptOptions.first?.originalRecipient == OriginalRecipient(address: "c+x@d.test"))
        }
        // Without DSN the parameters are left out rather than refused (RFC 3461 §4).
        try await withServer { address, recorder, _ in
            let client = try await Client.connect(to: Self.endpoint(address))
            try await client.mail(from: "a@b.test", options: MailOptions(dsnReturn: .full))
            try await client.rcpt(to: "c@d.test", options: RcptOptions(notify: [.never]))
            let writer = try await client.data()
            try await writer.write("body\r\n")
            try await writer.finish()
            try await client.quit()
            #expect(recorder.messages.first?.mailOptions.dsnReturn == nil)
            #expect(recorder.messages.first?.rcptOptions.first?.notify == nil)
        }
    }

    @Test("BINARYMIME goes in BDAT chunks, byte for byte; BDAT needs CHUNKING")
    func bdat() async throws {
        let session = ServerConfiguration(hostname: "mx.test", enableBINARYMIME: true)
        try await withServer(.test(session)) { address, recorder, _ in
            let client = try await Client.connect(to: Self.endpoint(address))
            try await client.mail(from: "a@b.test", options: MailOptions(body: .binaryMIME))
            try await client.rcpt(to: "c@d.test")
            await #expect(throws: SMTPClientError.self) { _ = try await client.data(transfer: .data) }
            let writer = try await client.data(transfer: .bdat(chunkSize: 1000))
            let body = "bare\nLF\n.\r\nnot the end\r\n" + String(repeating: "0123456789", count: 450)
            try await writer.write(body)
            try await writer.finish()
            try await client.quit()
            #expect(recorder.messages.first?.body == body)
            #expect(recorder.messages.first?.mailOptions.body == .binaryMIME)
        }
        try await withServer(.test(ServerConfiguration(hostname: "mx.test", enableChunking: false))) { address, _, _ in
            let client = try await Client.connect(to: Self.endpoint(address))
            await #expect(throws: SMTPClientError.extensionNotSupported("BINARYMIME")) {
                try await client.mail(from: "a@b.test", options: MailOptions(body: .binaryMIME))
            }
            try await client.mail(from: "a@b.test")
            try await client.rcpt(to: "c@d.test")
            await #expect(throws: SMTPClientError.extensionNotSupported("CHUNKING")) { _ = try await client.data(transfer: .bdat(chunkSize: 10)) }
            try await client.quit()
        }
    }

    @Test("a channel the caller connected (the reference's NewClient)")
    func callerChannel() async throws {
        try await withServer { address, recorder, _ in
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.autoRead, value: false)
                .connect(to: address).get()
            let client = try await Client.connect(over: channel)
            try await client.mail(from: "")
            try await client.rcpt(to: "c@d.test")
            let writer = try await client.data()
            try await writer.write("over a given channel\r\n")
            try await writer.finish()
            try await client.quit()
            #expect(recorder.messages.first?.from == .null)
            #expect(!channel.isActive)
        }
    }

    @Test("VRFY, and arguments with CR or LF are refused before anything is sent")
    func verifyAndInjection() async throws {
        let trace = Trace()
        try await withServer { address, recorder, _ in
            let client = try await Client.connect(to: Self.endpoint(address), configuration: Client.Configuration(trace: trace.record))
            #expect(try await client.verify("bob@example.net").code == 252)
            await #expect(throws: SMTPClientError.invalidArgument("a command line cannot contain CR or LF")) {
                try await client.verify("bob\r\nRSET")
            }
            await #expect(throws: SMTPClientError.self) {
                try await client.rcpt(to: Address(localPart: "x\r\nDATA", domain: "d.test"))
            }
            try await client.quit()
            #expect(!trace.lines.contains { $0.contains("RSET") || $0.contains("DATA") })
            #expect(recorder.messages.isEmpty)
        }
    }
}

/// Collects trace lines.
final class Trace: Sendable {
    private let storage = Mutex<[String]>([])
    var lines: [String] { storage.withLock { $0 } }
    var record: @Sendable (String) -> Void { { line in self.storage.withLock { $0.append(line) } } }
}
