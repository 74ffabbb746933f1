import Foundation
import Testing
import TestSupport

/// What a 250 promises, checked against power failures: the agent runs on an ext4 whose disk
/// records every write and cache flush (Tests/Fixtures/powerfail, a FUSE file behind a loop
/// device), and the disk is rebuilt as it was at each flush a 250 came after, then mounted and
/// searched. It needs root, loop devices, `/dev/fuse` and Python's `fuse` module (fusepy, over
/// Debian's libfuse2); without them it is skipped, and fails in CI.
@Suite("Power failure: every 250 is on the disk at the flush after it", .timeLimit(.minutes(5)))
struct PowerFailureTests {
    static let script = repositoryRoot + "/Tests/Fixtures/powerfail/check.py"

    /// Runs the check with `arguments` after the binary and the work directory; the test is
    /// skipped (a failure in CI) when the machine cannot run it.
    static func check(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try External.requireRoot("the power-failure check (loop devices, FUSE)")
        let python3 = try External.require("python3")
        _ = try External.require("losetup")
        _ = try External.require(arguments.contains("xfs") ? "mkfs.xfs" : "mkfs.ext4")
        guard FileManager.default.fileExists(atPath: "/dev/fuse") else { try External.unavailable("/dev/fuse is missing") }
        guard try await runProcess(python3, ["-c", "import fuse"]).status == 0 else {
            try External.unavailable("the power-failure check needs Python's fuse module (pip install fusepy)")
        }
        return try await withTemporaryDirectory { directory in
            try await runProcess(python3, [script, letterboxExecutable(), directory + "/work"] + arguments)
        }
    }

    @Test("as deployed (log on the same disk), with an operator beside the agent (deliver, sqlite3 read-write, stats, verify): every delivery acknowledged is whole in new/ and logged; nothing partial in new/")
    func deployed() async throws {
        let result = try await Self.check(["60", "4", "operator"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("60 messages, ") && result.output.contains(" 0 failures"), "\(result.output)")
        #expect(result.output.contains("the operator's letterbox deliver: "), "\(result.output)")
    }

    /// The log's syncs commit the journal too when its WAL grows, which would make links
    /// durable even if `new/` were never synced; with the log on a tmpfs only the Maildir's own
    /// syncs can (checked: without the `new/` fsyncs this fails, every delivery missing; without
    /// the spool's write-back before its link, files in `new/` come back empty).
    @Test("with the log elsewhere, and the operator beside the agent: the Maildir's own syncs make every acknowledged delivery durable")
    func maildirAlone() async throws {
        let result = try await Self.check(["60", "4", "log-elsewhere", "operator"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("60 messages, ") && result.output.contains(" 0 failures"), "\(result.output)")
        #expect(result.output.contains("the operator's letterbox deliver: "), "\(result.output)")
    }

    /// On XFS the file's data is written back before its link too, and the log force of `new/`'s
    /// fsync makes both durable (FileSystemOrdering): the same checks on an XFS disk (checked:
    /// without the write-back before the link this fails, files in new/ coming back empty).
    @Test("on XFS, as deployed and with the log elsewhere: every delivery acknowledged is whole in new/ (and logged); nothing partial",
          arguments: [["operator"], ["log-elsewhere"]])
    func xfs(_ mode: [String]) async throws {
        let result = try await Self.check(["60", "4"] + mode + ["xfs"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("60 messages, ") && result.output.contains(" 0 failures"), "\(result.output)")
    }
}
