import Foundation
import Testing
import TestSupport

/// Runs every `letterbox` command of docs/operations.md against a filled data directory, with
/// the agent serving it (as an operator runs them).
@Suite("docs/operations.md", .timeLimit(.minutes(1)))
struct OperationsDocumentTests {
    static func commands() throws -> [String] {
        try fencedBlocks(inFile: repositoryRoot + "/docs/operations.md", language: "sh")
            .flatMap { $0.split(separator: "\n").map(String.init) }
    }

    @Test("every command runs and succeeds")
    func commandsRun() async throws {
        let commands = try Self.commands()
        #expect(commands.count >= 7)
        #expect(commands.allSatisfy { $0.hasPrefix("letterbox ") })
        try await withTemporaryDirectory { directory in
            let filled = try await runProcess(letterboxExecutable(), ["deliver", "--data-dir", directory, "--sender", "alice@example.org",
                                                                      "--recipient", "bob@example.org"],
                                              input: "Subject: for the docs\nMessage-ID: <ops@example.org>\n\nbody\n")
            #expect(filled.status == 0)
            let agent = try await AgentProcess.start(in: directory)
            let binaries = URL(fileURLWithPath: letterboxExecutable()).deletingLastPathComponent().path
            let path = binaries + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            for command in commands {
                let result = try await runProcess("/bin/sh", ["-c", command], environment: ["PATH": path, "LETTERBOX_DATA_DIR": directory])
                #expect(result.status == 0, "\(command)\n\(result.output)")
                if command.contains("bob@example.org") || command.hasSuffix("show 1") {
                    #expect(result.output.contains("bob@example.org"), "\(command)\n\(result.output)")
                }
            }
            _ = await agent.stopAndWait()
        }
    }
}
