import Foundation
import Testing
import TestSupport

/// Runs every SQL block of docs/delivery-log.md with the sqlite3 tool against a log filled by
/// real deliveries, so that the page cannot describe a schema that is not there.
@Suite("docs/delivery-log.md", .timeLimit(.minutes(1)))
struct DeliveryLogDocumentTests {
    static func sqlBlocks() throws -> [String] {
        try fencedBlocks(inFile: DeploymentTests.repository + "/docs/delivery-log.md", language: "sql")
    }

    @Test("every query runs, and the ones about bob@example.org find his delivery")
    func queries() async throws {
        guard let sqlite = External.find("sqlite3") else { return }
        let blocks = try Self.sqlBlocks()
        #expect(blocks.count >= 6)
        try await withTemporaryDirectory { directory in
            let delivered = try await runProcess(letterboxExecutable(), ["deliver", "--data-dir", directory, "--sender", "alice@example.org",
                                                                         "--recipient", "bob@example.org"],
                                                 input: "Subject: logged\nMessage-ID: <m1@example.org>\n\nbody\n")
            #expect(delivered.status == 0, "\(delivered.output)")
            let database = directory + "/deliveries.sqlite"
            for block in blocks {
                let result = try await runProcess(sqlite, ["-bail", database, block])
                #expect(result.status == 0 && !result.output.contains("Error"), "\(block)\n\(result.output)")
                if block.contains("bob@example.org") || block.contains("<m1@example.org>") {
                    #expect(result.output.contains("delivered"), "\(block)\n\(result.output)")
                }
            }
        }
    }
}
