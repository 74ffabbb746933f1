import NIOCore
import SMTPBackendUtilities
import SMTPClient
import SMTPCore
import SMTPServer
import Synchronization
import Testing
import TestSupport

/// TransformBackend through a real server and socket, with our client.
@Suite("TransformBackend", .timeLimit(.minutes(2)))
struct TransformBackendTests {
    static func connect(_ address: SocketAddress, lmtp: Bool = false) async throws -> Client {
        try await Client.connect(to: .tcp(host: "127.0.0.1", port: address.port!), configuration: Client.Configuration(lmtp: lmtp))
    }

    /// Rewrites old.test to new.test in addresses.
    static let rename: TransformBackend.RecipientTransform = { address, _ in
        address.domain == "old.test" ? Address(address.localPart + "@new.test")! : address
    }

    @Test("sender, recipients and body are rewritten before the wrapped session sees them")
    func rewrites() async throws {
        let backend: (TestBackend) -> any Backend = { inner in
            TransformBackend(wrapping: inner, sender: { _, _ in .mailbox(Address("bounces@relay.test")!) }, recipient: Self.rename,
                             body: { body, envelope in
                                 var header = ByteBuffer(string: "X-Original-Recipients: \(envelope.recipients.count)\r\n")
                                 header.writeString("X-Client: \(envelope.state.hostname ?? "")\r\n")
                                 return body.prepending(header)
                             })
        }
        try await withServer(backend: backend) { address, recorder, _ in
            let client = try await Self.connect(address)
            _ = try await client.send(tls: .disabled, from: .mailbox(Address("alice@example.org")!), to: ["bob@old.test", "carol@other.test"].map { Address($0)! }, message: ByteBuffer(string: "Subject: hi\r\n\r\nbody\r\n"))
            try await client.quit()
            let message = try #require(recorder.messages.first)
            #expect(message.from == .mailbox(Address("bounces@relay.test")!))
            #expect(message.recipients == [Address("bob@new.test")!, Address("carol@other.test")!])
            #expect(message.body.hasPrefix("X-Original-Recipients: 2\r\nX-Client: localhost\r\nSubject: hi\r\n"))
        }
    }

    @Test("a transform's SMTPError is the client's reply")
    func transformRefuses() async throws {
        let backend: (TestBackend) -> any Backend = { inner in
            TransformBackend(wrapping: inner, recipient: { address, _ in
                if address.localPart == "spam" { throw SMTPError(code: 550, enhancedCode: EnhancedCode(5, 7, 1), message: "Not here") }
                return address
            })
        }
        try await withServer(backend: backend) { address, recorder, _ in
            let client = try await Self.connect(address)
            let (writer, statuses) = try await client.beginMessage(from: .null, to: [Address("spam@x.test")!, Address("ok@x.test")!])
            #expect(statuses.map(\.reply.code) == [550, 250])
            #expect(statuses[0].reply.text(separator: " ").contains("Not here"))
            try await writer.write("Subject: x\r\n\r\ny\r\n")
            try await writer.finish()
            try await client.quit()
            #expect(recorder.messages.first?.recipients == [Address("ok@x.test")!])
        }
    }

    @Test("LMTP: the wrapped session's per-recipient statuses reach the client in RCPT order, rewritten addresses included")
    func lmtpStatusesPassThrough() async throws {
        try await withServer(.test(SMTPCore.ServerConfiguration(lmtp: true, hostname: "mx.test")), behaviour: .lmtpMailboxStates,
                             backend: { TransformBackend(wrapping: $0, recipient: Self.rename) }) { address, recorder, _ in
            let client = try await Self.connect(address, lmtp: true)
            let recipients = ["full@old.test", "bob@old.test", "gone@x.test", "bob@old.test"].map { Address($0)! }
            let (writer, _) = try await client.beginMessage(from: .null, to: recipients)
            try await writer.write("Subject: lmtp\r\n\r\nbody\r\n")
            let statuses = try await writer.finishWithStatuses()
            try await client.quit()
            #expect(statuses.map(\.reply.code) == [452, 250, 550, 250])
            #expect(statuses.map(\.recipient) == recipients)
            #expect(recorder.messages.first?.recipients.map(\.description) == ["full@new.test", "bob@new.test", "gone@x.test", "bob@new.test"])
        }
    }

    @Test("a 4 MiB body transformed as a stream: every octet rewritten, no chunk larger than the server's reads")
    func largeBodyStreams() async throws {
        struct Seen { var octets = 0; var lowercaseA = 0; var largestChunk = 0; var prefixOK = false }
        let seen = Mutex(Seen())
        let inner = ClosureBackend(message: { _, body in
            var first = true
            for try await chunk in body {
                let bytes = chunk.readableBytesView
                seen.withLock { seen in
                    if first { seen.prefixOK = bytes.starts(with: Array("X-Filtered: yes\r\n".utf8)) }
                    seen.octets += bytes.count
                    seen.lowercaseA += bytes.withUnsafeBytes { raw in raw.reduce(0) { $1 == UInt8(ascii: "a") ? $0 + 1 : $0 } }
                    seen.largestChunk = max(seen.largestChunk, bytes.count)
                }
                first = false
            }
        })
        // Replaces every "a" with "b", chunk by chunk.
        let backend = TransformBackend(wrapping: inner, body: { body, _ in
            MessageBody(body.map { chunk -> ByteBuffer in
                var copy = chunk
                copy.withUnsafeMutableReadableBytes { raw in
                    for index in raw.indices where raw[index] == UInt8(ascii: "a") { raw[index] = UInt8(ascii: "b") }
                }
                return copy
            }).prepending(ByteBuffer(string: "X-Filtered: yes\r\n"))
        })
        // Server and client on a loop of their own: the per-octet work must not hold up the
        // shared loops of the tests running beside this one.
        try await withPrivateEventLoop { loop in
            try await withServer(backend: { _ in backend }, eventLoopGroup: loop) { address, _, _ in
                let client = try await Client.connect(to: .tcp(host: "127.0.0.1", port: address.port!), eventLoopGroup: loop)
                let (writer, _) = try await client.beginMessage(from: .null, to: [Address("big@x.test")!])
                try await writer.write("Subject: big\r\n\r\n")
                let line = String(repeating: "a", count: 1022) + "\r\n"
                let block = String(repeating: line, count: 1024)
                for _ in 0..<4 { try await writer.write(block) }
                try await writer.finish()
                try await client.quit()
            }
        }
        let result = seen.withLock { $0 }
        #expect(result.prefixOK)
        #expect(result.octets == "X-Filtered: yes\r\n".utf8.count + "Subject: big\r\n\r\n".utf8.count + 4 << 20)
        #expect(result.lowercaseA == 0)
        #expect(result.largestChunk <= 1 << 20)
    }
}
