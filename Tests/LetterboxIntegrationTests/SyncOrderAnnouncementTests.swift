import Foundation
import Testing
import TestSupport

/// What `serve` says about the mail root's file system, on ext4 and XFS file systems of the
/// test's own (root, loop devices).
@Suite("letterbox serve on a scratch ext4 or XFS", .timeLimit(.minutes(2)))
struct SyncOrderAnnouncementTests {
    @Test("--fsync: the order of syncs the mail root's file system allows is announced; portable forces the file's fsync first; a bad value is refused")
    func fsyncOrder() async throws {
        try await ScratchFileSystem.with { mountPoint in
            for (arguments, expected) in [([String](), "ext4: journal on"), (["--fsync", "portable"], "file fsynced before the link")] {
                let agent = try await AgentProcess.start(in: mountPoint + "/data\(arguments.count)", arguments)
                let line = try await agent.waitForOutput("mail root")
                #expect(line.contains(expected), "\(line)")
                if arguments.isEmpty { #expect(line.contains("data written back before the link, durable with new/"), "\(line)") }
                #expect(try await agent.rcptCodes(["bob@x.test"]) == [250])
                _ = await agent.stopAndWait()
            }
        }
        try await ScratchFileSystem.with(mkfsOptions: ["-O", "^has_journal"]) { mountPoint in
            let agent = try await AgentProcess.start(in: mountPoint + "/data")
            let line = try await agent.waitForOutput("mail root")
            #expect(line.contains("no internal journal running: file fsynced before the link"), "\(line)")
            _ = await agent.stopAndWait()
        }
        // XFS with its internal log orders data before links as well (see FileSystemOrdering).
        try await ScratchFileSystem.with(type: "xfs") { mountPoint in
            let agent = try await AgentProcess.start(in: mountPoint + "/data")
            let line = try await agent.waitForOutput("mail root")
            #expect(line.contains("xfs: internal log") && line.contains("data written back before the link, durable with new/"), "\(line)")
            #expect(try await agent.rcptCodes(["bob@x.test"]) == [250])
            _ = await agent.stopAndWait()
        }
        try await withTemporaryDirectory { directory in
            let refused = try await runProcess(letterboxExecutable(), ["serve", "--data-dir", directory + "/data", "--fsync", "sometimes"])
            #expect(refused.status != 0 && refused.output.contains("Please provide one of 'always', 'portable' or 'never'"), "\(refused.output)")
        }
    }
}
