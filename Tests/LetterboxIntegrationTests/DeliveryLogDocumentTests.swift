import Foundation
import Testing
import TestSupport

/// Runs every SQL block of docs/delivery-log.md with the sqlite3 tool against a log filled by
/// real deliveries, so that the page cannot describe a schema that is not there.
@Suite("docs/delivery-log.md", .timeLimit(.minutes(1)))
struct DeliveryLogDocumentTests {
    static func sqlBlocks() throws -> [String] {
        try fencedBlocks(inFile: repositoryRoot + "/docs/delivery-log.md", language: "sql")
    }

    @Test("every query runs, and the ones about bob@example.org find his delivery")
    func queries() async throws {
        let sqlite = try External.require("sqlite3")
        let blocks = try Self.sqlBlocks()
        #expect(blocks.count >= 6)
        try await withTemporaryDirectory { directory in
            let delivered = try await runProcess(letterboxExecutable(), ["deliver", "--data-dir", directory, "--sender", "alice@example.org",
                                                                         "--recipient", "bob@example.org"],
                                                 input: "Subject: logged\nMessage-ID: <m1@example.org>\n\nbody\n")
            #expect(delivered.status == 0, "\(delivered.output)")
            let database = directory + "/deliveries.sqlite"
            for block in blocks {
                // Read-only, as the page tells operators to read it; its one write (pruning) as it is.
                let writes = block.uppercased().hasPrefix("DELETE")
                let result = try await runProcess(sqlite, ["-bail"] + (writes ? [] : ["-readonly"]) + [database, block])
                #expect(result.status == 0 && !result.output.contains("Error"), "\(block)\n\(result.output)")
                if block.contains("bob@example.org") || block.contains("<m1@example.org>") {
                    #expect(result.output.contains("delivered"), "\(block)\n\(result.output)")
                }
            }
        }
    }

    @Test("the backup commands make a copy from a read-only connection while the agent runs, and leave the agent's WAL in place")
    func backups() async throws {
        let sqlite = try External.require("sqlite3"), shell = try External.require("sh")
        let blocks = try fencedBlocks(inFile: repositoryRoot + "/docs/delivery-log.md", language: "sh")
        #expect(!blocks.isEmpty)
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory)
            defer { agent.stop() }
            let delivered = try await runProcess(letterboxExecutable(), ["deliver", "--data-dir", directory, "--sender", "alice@example.org",
                                                                         "--recipient", "bob@example.org"],
                                                 input: "Subject: logged\nMessage-ID: <m1@example.org>\n\nbody\n")
            #expect(delivered.status == 0, "\(delivered.output)")
            for block in blocks {
                let result = try await runProcess(shell, ["-ec", block], currentDirectory: directory)
                #expect(result.status == 0, "\(block)\n\(result.output)")
            }
            for copy in ["backup.sqlite", "compact-backup.sqlite"] {
                let read = try await runProcess(sqlite, ["-readonly", directory + "/" + copy, "PRAGMA integrity_check; SELECT recipient FROM deliveries;"])
                #expect(read.output == "ok\nbob@example.org\n", "\(copy): \(read.output)")
            }
            #expect(FileManager.default.fileExists(atPath: agent.database + "-wal"))
        }
    }
}
