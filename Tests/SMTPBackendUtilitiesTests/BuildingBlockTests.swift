import NIOCore
import SASL
import SMTPBackendUtilities
import SMTPClient
import SMTPCore
import SMTPServer
import Synchronization
import Testing
import TestSupport

/// ClosureBackend, MemoryBackend and FanOutBackend through a real server and socket.
@Suite("Backend building blocks", .timeLimit(.minutes(2)))
struct BuildingBlockTests {
    static func withServing<T>(_ backend: any Backend, lmtp: Bool = false, allowInsecureAuth: Bool = false,
                               _ body: (Client) async throws -> T) async throws -> T {
        let session = SMTPCore.ServerConfiguration(lmtp: lmtp, hostname: "mx.test", allowInsecureAuth: allowInsecureAuth)
        return try await withServer(.test(session), backend: { _ in backend }) { address, _, _ in
            let client = try await Client.connect(to: .tcp(host: "127.0.0.1", port: address.port!), configuration: Client.Configuration(lmtp: lmtp))
            let result = try await body(client)
            try? await client.quit()
            return result
        }
    }

    @Test("ClosureBackend: the closures see each step and the whole envelope; their errors are the replies")
    func closures() async throws {
        let received = Mutex<[String]>([])
        let backend = ClosureBackend(
            sender: { sender, options, _ in
                if sender.address?.domain == "spammer.test" { throw SMTPError(code: 550, enhancedCode: EnhancedCode(5, 7, 1), message: "No") }
                #expect(options.body == .eightBitMIME)
            },
            recipient: { recipient, _, _ in
                if recipient.localPart == "nobody" { throw SMTPError(code: 550, enhancedCode: EnhancedCode(5, 1, 1), message: "Unknown") }
            },
            message: { envelope, body in
                let text = String(buffer: try await body.collect(upTo: 1 << 20))
                received.withLock { $0.append("\(envelope.sender) -> \(envelope.recipients.map(\.address.description)): \(text)") }
            })
        try await Self.withServing(backend) { client in
            await #expect(throws: SMTPError.self) {
                _ = try await client.send(tls: .disabled, from: .mailbox(Address("x@spammer.test")!), to: ["bob@x.test"].map { Address($0)! }, message: ByteBuffer(string: "a\r\n"))
            }
            let (writer, statuses) = try await client.beginMessage(from: .mailbox(Address("alice@x.test")!),
                                                                   to: [Address("nobody@x.test")!, Address("bob@x.test")!])
            #expect(statuses.map(\.reply.code) == [550, 250])
            try await writer.write("hello\r\n")
            try await writer.finish()
        }
        #expect(received.withLock { $0 } == ["alice@x.test -> [\"bob@x.test\"]: hello\r\n"])
    }

    @Test("MemoryBackend keeps the newest messages up to its bound and refuses oversized ones with 552")
    func memoryBounded() async throws {
        let memory = MemoryBackend(maximumMessages: 2, maximumMessageSize: 1000)
        try await Self.withServing(memory) { client in
            for number in 1...3 {
                _ = try await client.send(tls: .disabled, from: .mailbox(Address("alice@x.test")!), to: ["bob@x.test"].map { Address($0)! }, message: ByteBuffer(string: "Subject: \(number)\r\n\r\nbody\r\n"))
            }
            let oversized = try await client.send(tls: .disabled, from: .mailbox(Address("alice@x.test")!), to: [Address("bob@x.test")!],
                                                  message: ByteBuffer(string: String(repeating: "x", count: 2000) + "\r\n"))
            #expect(oversized.map(\.reply.code) == [552])
            #expect(oversized.first?.reply.enhancedCode == EnhancedCode(5, 3, 4))
        }
        #expect(memory.messages.map(\.text) == ["Subject: 2\r\n\r\nbody\r\n", "Subject: 3\r\n\r\nbody\r\n"])
        #expect(memory.messages.first?.envelope.recipients.map(\.address) == [Address("bob@x.test")!])
        memory.removeAll()
        #expect(memory.messages.isEmpty)
    }

    @Test("MemoryBackend with credentials: MAIL needs AUTH (530), then the user is in the envelope")
    func memoryCredentials() async throws {
        let memory = MemoryBackend(credentials: ["ann": "pw"])
        try await Self.withServing(memory, allowInsecureAuth: true) { client in
            await #expect(throws: SMTPError.self) {
                _ = try await client.send(tls: .disabled, from: .mailbox(Address("ann@x.test")!), to: ["bob@x.test"].map { Address($0)! }, message: ByteBuffer(string: "a\r\n"))
            }
            try await client.auth(PlainClient(username: "ann", password: "pw"))
            _ = try await client.send(tls: .disabled, from: .mailbox(Address("ann@x.test")!), to: ["bob@x.test"].map { Address($0)! }, message: ByteBuffer(string: "a\r\n"))
        }
        #expect(memory.messages.map(\.envelope.username) == ["ann"])
    }

    @Test("FanOutBackend over LMTP: routed recipients, one body to every branch, per-recipient worst outcome")
    func fanOut() async throws {
        let mailbox = MemoryBackend()
        let archive = MemoryBackend()
        // A third branch that fails temporarily for "flaky", per recipient (LMTP session).
        let flaky = ClosureBackend(recipient: { recipient, _, _ in
            if recipient.localPart == "refused" { throw SMTPError(code: 550, enhancedCode: EnhancedCode(5, 1, 1), message: "No such user") }
        }, message: { envelope, body in
            for try await _ in body {}
            if envelope.recipients.contains(where: { $0.address.localPart == "flaky" }) {
                throw SMTPError(code: 451, enhancedCode: EnhancedCode(4, 3, 0), message: "Try later")
            }
        })
        let backend = FanOutBackend(routes: [
            .init(mailbox, accepts: { $0.domain == "x.test" }),
            .init(archive),
            .init(flaky, accepts: { $0.localPart == "flaky" || $0.localPart == "refused" }),
        ])
        let codes = try await Self.withServing(backend, lmtp: true) { client in
            let recipients = ["bob@x.test", "carol@y.test", "flaky@x.test", "refused@z.test"].map { Address($0)! }
            let (writer, rcpt) = try await client.beginMessage(from: .mailbox(Address("alice@x.test")!), to: recipients)
            // refused@z.test: the archive takes it, flaky refuses it: accepted.
            #expect(rcpt.map(\.reply.code) == [250, 250, 250, 250])
            try await writer.write("Subject: fan-out\r\n\r\n" + String(repeating: "0123456789abcdef", count: 65536) + "\r\n")
            return try await writer.finishWithStatuses().map(\.reply.code)
        }
        // flaky@x.test failed in one branch: 451, though the others stored it.
        #expect(codes == [250, 250, 451, 250])
        #expect(mailbox.messages.first?.envelope.recipients.map(\.address.description) == ["bob@x.test", "flaky@x.test"])
        #expect(archive.messages.first?.envelope.recipients.count == 4)
        #expect(mailbox.messages.first?.body == archive.messages.first?.body)
        #expect(archive.messages.first?.body.readableBytes == "Subject: fan-out\r\n\r\n".utf8.count + (1 << 20) + 2)
    }

    @Test("FanOutBackend: a recipient no branch is offered gets 550 5.1.1; plain SMTP gets the worst outcome")
    func fanOutRefusals() async throws {
        let mailbox = MemoryBackend()
        let failing = ClosureBackend(message: { _, body in
            for try await _ in body {}
            throw SMTPError(code: 452, enhancedCode: EnhancedCode(4, 3, 1), message: "Disk full")
        })
        let backend = FanOutBackend(routes: [.init(mailbox, accepts: { $0.domain == "x.test" }), .init(failing, accepts: { $0.domain == "x.test" })])
        try await Self.withServing(backend) { client in
            let (writer, rcpt) = try await client.beginMessage(from: .null, to: [Address("bob@x.test")!, Address("eve@elsewhere.test")!])
            #expect(rcpt.map(\.reply.code) == [250, 550])
            #expect(rcpt[1].reply.enhancedCode == EnhancedCode(5, 1, 1))
            try await writer.write("hello\r\n")
            do {
                try await writer.finish()
                Issue.record("the failing branch's 452 was not reported")
            } catch let error as SMTPError {
                #expect(error.code == 452)
            }
        }
        #expect(mailbox.messages.count == 1)
    }

    @Test("FanOutBackend: a branch that stops reading early (552) does not stall the others")
    func fanOutEarlyStop() async throws {
        let small = MemoryBackend(maximumMessageSize: 4096)
        let large = MemoryBackend(maximumMessageSize: 8 << 20)
        let backend = FanOutBackend(routes: [.init(small, accepts: { $0.localPart == "small" }), .init(large)])
        let codes = try await Self.withServing(backend, lmtp: true) { client in
            let (writer, _) = try await client.beginMessage(from: .null, to: [Address("small@x.test")!, Address("large@x.test")!])
            let line = String(repeating: "z", count: 1022) + "\r\n"
            for _ in 0..<4096 { try await writer.write(line) }
            return try await writer.finishWithStatuses().map(\.reply.code)
        }
        // small@ was taken by both branches: the small one's 552 is its status.
        #expect(codes == [552, 250])
        #expect(small.messages.isEmpty)
        #expect(large.messages.first?.body.readableBytes == 4 << 20)
    }
}
