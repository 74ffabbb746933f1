import NIOCore
import SMTPBackendUtilities
import SMTPClient
import SMTPCore
import SMTPServer
import Synchronization
import Testing
import TestSupport

/// The getting-started example of the README and the DocC catalogs, run: the code between the
/// `example` markers is the README's, line for line (a test below compares them).
@Suite("Getting started", .timeLimit(.minutes(1)))
struct GettingStartedTests {
    @Test("the README's example: a server with a closure backend, and a message sent to it")
    func example() async throws {
        let received = Mutex<[String]>([])
        @Sendable func print(_ line: String) { received.withLock { $0.append(line) } }
        // example begins
        // A server for example.org: it refuses other domains at RCPT and prints each message.
        let backend = ClosureBackend(
            recipient: { address, _, _ in
                guard address.domain == "example.org" else {
                    throw SMTPError(code: 550, enhancedCode: EnhancedCode(5, 7, 1), message: "Relaying denied")
                }
            },
            message: { envelope, body in
                let message = try await body.collect(upTo: 10 << 20)
                print("\(envelope.sender) → \(envelope.recipients.map(\.address)): \(message.readableBytes) octets")
            })
        let server = Server(backend: backend, configuration: .init(session: .init(hostname: "mx.example.org")))
        let address = try await server.listen(.tcp(host: "127.0.0.1", port: 0))
        let serving = Task { try await server.run() }

        // A message to it: each recipient's reply comes back.
        let statuses = try await Client.sendMail(
            to: .tcp(host: "127.0.0.1", port: address!.port!), tls: .disabled,
            from: .mailbox(Address("alice@example.net")!),
            to: [Address("bob@example.org")!, Address("carol@example.com")!],
            message: ByteBuffer(string: "Subject: hello\r\n\r\nHi Bob.\r\n"))
        for status in statuses { print("\(status.recipient): \(status.reply.code)") }

        await server.shutdown(gracePeriod: .seconds(5))
        try await serving.value
        // example ends
        #expect(received.withLock { $0 } == ["alice@example.net → [bob@example.org]: 27 octets",
                                             "bob@example.org: 250", "carol@example.com: 550"])
    }

    @Test("the README shows the example as it is run here")
    func readmeMatches() throws {
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        let begin = try #require(lines.firstIndex { $0.hasSuffix("// example begins") })
        let end = try #require(lines.firstIndex { $0.hasSuffix("// example ends") })
        let example = lines[(begin + 1)..<end].map { $0.dropFirst(8) }.joined(separator: "\n")
        let readme = try String(contentsOfFile: repositoryRoot + "/README.md", encoding: .utf8)
        #expect(readme.contains(example), "README.md does not show the example of \(#filePath)")
    }
}
