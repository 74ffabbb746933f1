import DeliveryLog
import Foundation
import LocalDelivery
import NIOCore
import SMTPCore
import Testing
import TestSupport

/// The agent's rules, driven in process through `LocalDeliveryBackend.deliver` (the path
/// `letterbox deliver` takes, the same session and pipeline as LMTP) on real files in a
/// temporary directory: no root, no external program, no binary.
@Suite("The delivery agent in process", .timeLimit(.minutes(1)))
struct LocalDeliveryBackendTests {
    /// A body as the backend reads it: one buffer per chunk.
    struct Body: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let chunks: [ByteBuffer]

        init(_ text: String) {
            chunks = [ByteBuffer(string: text)]
        }

        struct AsyncIterator: AsyncIteratorProtocol {
            var rest: [ByteBuffer]
            mutating func next() async -> ByteBuffer? { rest.isEmpty ? nil : rest.removeFirst() }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: chunks) }
    }

    /// A backend over `directory`'s mail root and log; `users` a users file's text.
    static func backend(_ directory: String, users: String? = nil,
                        _ adjust: (inout LocalDeliveryConfiguration) -> Void = { _ in }) throws -> (LocalDeliveryBackend, DeliveryLog) {
        var configuration = LocalDeliveryConfiguration(mailRoot: directory + "/mail", hostname: "mx.test")
        adjust(&configuration)
        let log = try DeliveryLog(path: directory + "/deliveries.sqlite")
        return (LocalDeliveryBackend(configuration: configuration, log: log, users: try users.map { try UserDirectory(parsing: $0) }), log)
    }

    static func deliver(_ backend: LocalDeliveryBackend, to recipients: [String], _ message: String,
                        options: MailOptions = MailOptions()) async throws -> [SMTPError?] {
        try await backend.deliver(from: .mailbox(Address("alice@y.test")!), to: recipients.map { Address($0)! },
                                  body: Body(message), mailOptions: options)
    }

    static func files(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    @Test("a recipient whose Maildir cannot be written gets 451 4.3.0; the others are delivered; each outcome is a row")
    func perRecipientFailure() async throws {
        try await withTemporaryDirectory { directory in
            let (backend, log) = try Self.backend(directory)
            let bob = directory + "/mail/x.test/bob"
            for sub in ["tmp", "cur"] { try FileManager.default.createDirectory(atPath: bob + "/" + sub, withIntermediateDirectories: true) }
            #expect(FileManager.default.createFile(atPath: bob + "/new", contents: Data()))
            let outcomes = try await Self.deliver(backend, to: ["carol@x.test", "bob@x.test"], "Subject: one\r\n\r\nbody\r\n")
            #expect(outcomes[0] == nil)
            #expect(outcomes[1]?.code == 451 && outcomes[1]?.enhancedCode == EnhancedCode(4, 3, 0))
            #expect(Self.files(directory + "/mail/x.test/carol/new").count == 1)
            let rows = try await log.reader.deliveries(matching: DeliveryFilter())
            #expect(Set(rows.map { "\($0.recipient) \($0.status.rawValue)" }) == ["carol@x.test delivered", "bob@x.test deferred"])
            try log.close()
        }
    }

    @Test("the same message again within the window is suppressed while its copy is there, delivered again once it is gone")
    func duplicates() async throws {
        try await withTemporaryDirectory { directory in
            let (backend, log) = try Self.backend(directory)
            let message = "Message-ID: <dup@y.test>\r\nSubject: twice\r\n\r\nbody\r\n"
            #expect(try await Self.deliver(backend, to: ["bob@x.test"], message) == [nil])
            #expect(try await Self.deliver(backend, to: ["bob@x.test"], message) == [nil])
            let new = directory + "/mail/x.test/bob/new"
            #expect(Self.files(new).count == 1)
            #expect(try await log.reader.deliveries(matching: DeliveryFilter(status: .duplicate)).count == 1)
            try FileManager.default.removeItem(atPath: new + "/" + Self.files(new)[0])
            #expect(try await Self.deliver(backend, to: ["bob@x.test"], message) == [nil])
            #expect(Self.files(new).count == 1)
            try log.close()
        }
    }

    @Test("quota: refused at RCPT when SIZE says it cannot fit (552 5.2.2, 452 4.2.2 with quota-tempfail), and at delivery when the message does not")
    func quota() async throws {
        try await withTemporaryDirectory { directory in
            let (backend, log) = try Self.backend(directory, users: "bob@x.test quota=400\ncarol@x.test quota=400\n")
            let big = "Subject: big\r\n\r\n" + String(repeating: "0123456789\r\n", count: 60)
            let atRCPT = try await Self.deliver(backend, to: ["bob@x.test"], big, options: MailOptions(size: 800))
            #expect(atRCPT[0]?.code == 552 && atRCPT[0]?.enhancedCode == EnhancedCode(5, 2, 2))
            let atDelivery = try await Self.deliver(backend, to: ["carol@x.test"], big)
            #expect(atDelivery[0]?.code == 552)
            #expect(Self.files(directory + "/mail/x.test/carol/new").isEmpty)
            try log.close()
            let tempfail = directory + "/tempfail"
            try FileManager.default.createDirectory(atPath: tempfail, withIntermediateDirectories: true)
            let (deferring, log2) = try Self.backend(tempfail, users: "bob@x.test quota=400\n") { $0.quotaTempfail = true }
            let deferred = try await Self.deliver(deferring, to: ["bob@x.test"], big, options: MailOptions(size: 800))
            #expect(deferred[0]?.code == 452 && deferred[0]?.enhancedCode == EnhancedCode(4, 2, 2))
            try log2.close()
        }
    }

    @Test("+detail goes into its folder when folders are created; unknown users and paths that would leave the mail root are refused at RCPT")
    func foldersAndRefusals() async throws {
        try await withTemporaryDirectory { directory in
            let (backend, log) = try Self.backend(directory, users: "bob@x.test\n") {
                $0.recipientDelimiter = "+"
                $0.detailFolders = .create
            }
            let outcomes = try await Self.deliver(backend, to: ["bob+lists@x.test", "carol@x.test", "\"../etc\"@x.test"],
                                                  "Subject: folders\r\n\r\nbody\r\n")
            #expect(outcomes[0] == nil)
            #expect(outcomes[1]?.code == 550 && outcomes[1]?.enhancedCode == EnhancedCode(5, 1, 1))
            #expect(outcomes[2]?.code == 550 && outcomes[2]?.enhancedCode == EnhancedCode(5, 1, 3))
            #expect(Self.files(directory + "/mail/x.test/bob/.lists/new").count == 1)
            #expect(!FileManager.default.fileExists(atPath: directory + "/mail/etc"))
            let rows = try await log.reader.deliveries(matching: DeliveryFilter())
            #expect(Set(rows.map { "\($0.recipient) \($0.code)" }) == ["bob@x.test 250", "carol@x.test 550", "../etc@x.test 550"])
            try log.close()
        }
    }

    @Test("a log that cannot commit: 451 4.3.0 for every recipient and no copy left in new/")
    func logFails() async throws {
        try await withTemporaryDirectory { directory in
            let (backend, log) = try Self.backend(directory)
            try log.close()
            let outcomes = try await Self.deliver(backend, to: ["bob@x.test", "carol@x.test"], "Subject: unlogged\r\n\r\nbody\r\n")
            #expect(outcomes.map { $0?.code } == [451, 451])
            #expect(outcomes.allSatisfy { $0?.message.contains("Delivery log unavailable") == true })
            #expect(Self.files(directory + "/mail/x.test/bob/new").isEmpty && Self.files(directory + "/mail/x.test/carol/new").isEmpty)
        }
    }
}
