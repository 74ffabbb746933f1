import Logging
import NIOCore
import SMTPServer
import Synchronization
import Testing
import TestSupport

/// Keeps every log record, for assertions.
struct CapturingLogHandler: LogHandler {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    let sink: @Sendable (Record) -> Void
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        sink(Record(level: event.level, message: event.message.description, metadata: merged.mapValues { "\($0)" }))
    }
}

@Suite("Logging", .timeLimit(.minutes(1)))
struct LoggingTests {
    @Test("one debug line per message, with the session id and the client, under smtp. keys")
    func messageLine() async throws {
        let records = Mutex<[CapturingLogHandler.Record]>([])
        let logger = Logger(label: "test") { _ in
            CapturingLogHandler(sink: { record in records.withLock { $0.append(record) } })
        }
        try await withServer(logger: logger) { address, _, _ in
            try await TestClient.with(address) { client in
                try await client.beginData()
                try await client.send("hello\r\n.\r\n")
                #expect(try await client.reply() == "250 2.0.0 Ok: queued")
            }
        }
        let lines = records.withLock { $0 }.filter { $0.message == "message received" }
        #expect(lines.count == 1 && lines.first?.level == .debug)
        let line = try #require(lines.first)
        #expect(line.metadata["smtp.from"] == "<a@b.test>")
        #expect(line.metadata["smtp.recipients"] == "1")
        #expect(line.metadata["smtp.octets"] == "7")
        #expect(line.metadata["smtp.replies"] == "250")
        #expect(line.metadata["smtp.session"]?.count == 16)
        #expect(line.metadata["smtp.remote"]?.contains("127.0.0.1") == true)
    }
}
