import Foundation
import Testing
import TestSupport

/// Runs every `letterbox` command of docs/operations.md against a filled data directory.
@Suite("docs/operations.md", .timeLimit(.minutes(1)))
struct OperationsDocumentTests {
    static func commands() throws -> [String] {
        let text = try String(contentsOfFile: DeploymentTests.repository + "/docs/operations.md", encoding: .utf8)
        var commands: [String] = []
        var inShell = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line == "```sh" {
                inShell = true
            } else if line == "```" {
                inShell = false
            } else if inShell {
                commands.append(line)
            }
        }
        return commands
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
            let binaries = URL(fileURLWithPath: letterboxExecutable()).deletingLastPathComponent().path
            let path = binaries + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            for command in commands {
                let result = try await runProcess("/bin/sh", ["-c", command], environment: ["PATH": path, "LETTERBOX_DATA_DIR": directory])
                #expect(result.status == 0, "\(command)\n\(result.output)")
                if command.contains("bob@example.org") || command.hasSuffix("show 1") {
                    #expect(result.output.contains("bob@example.org"), "\(command)\n\(result.output)")
                }
            }
        }
    }
}
