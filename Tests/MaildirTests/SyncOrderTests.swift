import Foundation
import Maildir
import Testing
import TestSupport

@Suite("Sync order: which file systems let the file be written back, not synced, before its link", .serialized)
struct SyncOrderTests {
    @Test("ext4 with its journal, data=ordered or data=journal: ordered; without a journal, data=writeback or nobarrier: not")
    func findings() async throws {
        try await ScratchFileSystem.with { mountPoint in
            let finding = FileSystemOrdering.finding(forPath: mountPoint)
            #expect(finding.ordersDataBeforeLinks, "\(finding)")
            #expect(finding.type == "ext4")
            #expect(finding.reason.contains("data=ordered"), "\(finding)")
        }
        try await ScratchFileSystem.with(mountOptions: ["data=journal"]) { mountPoint in
            let finding = FileSystemOrdering.finding(forPath: mountPoint)
            #expect(finding.ordersDataBeforeLinks, "\(finding)")
            #expect(finding.reason.contains("data=journal"), "\(finding)")
        }
        try await ScratchFileSystem.with(mkfsOptions: ["-O", "^has_journal"]) { mountPoint in
            let finding = FileSystemOrdering.finding(forPath: mountPoint)
            #expect(!finding.ordersDataBeforeLinks, "\(finding)")
            #expect(finding.reason == "no internal journal running")
        }
        try await ScratchFileSystem.with(mountOptions: ["data=writeback"]) { mountPoint in
            let finding = FileSystemOrdering.finding(forPath: mountPoint)
            #expect(!finding.ordersDataBeforeLinks, "\(finding)")
            #expect(finding.reason == "mounted with data=writeback")
        }
        try await ScratchFileSystem.with(mountOptions: ["nobarrier"]) { mountPoint in
            let finding = FileSystemOrdering.finding(forPath: mountPoint)
            #expect(!finding.ordersDataBeforeLinks, "\(finding)")
            #expect(finding.reason == "mounted with nobarrier")
        }
    }

    @Test("options the kernel uses count, not only those mountinfo shows: data=writeback and nobarrier stored in the superblock (tune2fs -o); fast_commit gets the portable order")
    func superblockDefaults() async throws {
        try await ScratchFileSystem.with(tuneOptions: ["-o", "journal_data_writeback"]) { mountPoint in
            let finding = FileSystemOrdering.finding(forPath: mountPoint)
            #expect(!finding.ordersDataBeforeLinks, "\(finding)")
            #expect(finding.reason == "mounted with data=writeback")
        }
        try await ScratchFileSystem.with(tuneOptions: ["-o", "nobarrier"]) { mountPoint in
            let finding = FileSystemOrdering.finding(forPath: mountPoint)
            #expect(!finding.ordersDataBeforeLinks, "\(finding)")
            #expect(finding.reason == "mounted with nobarrier")
        }
        try await ScratchFileSystem.with(mkfsOptions: ["-O", "fast_commit"]) { mountPoint in
            let finding = FileSystemOrdering.finding(forPath: mountPoint)
            #expect(!finding.ordersDataBeforeLinks, "\(finding)")
            #expect(finding.reason == "fast_commit enabled")
        }
    }

    @Test("a file system mounted again (a new mount) is looked at again: remounted without its journal, it gets the portable order")
    func remountedWithoutJournal() async throws {
        try await ScratchFileSystem.with { mountPoint in
            let first = FileSystemOrdering.finding(forPath: mountPoint)
            #expect(first.ordersDataBeforeLinks, "\(first)")
            let mount = try External.require("mount"), umount = try External.require("umount")
            let tune2fs = try External.require("tune2fs"), losetup = try External.require("losetup")
            #expect(try await runProcess(umount, ["-d", mountPoint]).status == 0)
            let image = (mountPoint as NSString).deletingLastPathComponent + "/fs.img"
            // The kernel lets go of the loop device a moment after the unmount; mount refuses
            // an image still attached to one.
            for _ in 0..<100 where !(try await runProcess(losetup, ["-j", image]).output.isEmpty) {
                try await Task.sleep(for: .milliseconds(50))
            }
            let tuned = try await runProcess(tune2fs, ["-O", "^has_journal", image])
            #expect(tuned.status == 0, "\(tuned.output)")
            let mounted = try await runProcess(mount, ["-t", "ext4", "-o", "loop", image, mountPoint])
            #expect(mounted.status == 0, "\(mounted.output)")
            let second = FileSystemOrdering.finding(forPath: mountPoint)
            #expect(!second.ordersDataBeforeLinks, "\(second)")
            #expect(second.reason == "no internal journal running")
        }
    }

    @Test("XFS with its internal log: ordered; with an external log (logdev=): not")
    func xfs() async throws {
        try await ScratchFileSystem.with(type: "xfs") { mountPoint in
            let finding = FileSystemOrdering.finding(forPath: mountPoint)
            #expect(finding.ordersDataBeforeLinks, "\(finding)")
            #expect(finding.type == "xfs" && finding.reason == "internal log")
        }
        // The log on a device of its own: a second image behind a loop device.
        try await withTemporaryDirectory { directory in
            let losetup = try External.require("losetup")
            let logImage = directory + "/log.img"
            guard FileManager.default.createFile(atPath: logImage, contents: nil), truncate(logImage, 80 << 20) == 0 else {
                Issue.record("could not make \(logImage)")
                return
            }
            let attached = try await runProcess(losetup, ["--find", "--show", logImage])
            guard attached.status == 0 else { try External.unavailable("losetup failed: \(attached.output)") }
            let logDevice = attached.output.trimmingCharacters(in: .whitespacesAndNewlines)
            do {
                try await ScratchFileSystem.with(type: "xfs", mkfsOptions: ["-l", "logdev=\(logDevice),size=64m"],
                                                 mountOptions: ["logdev=\(logDevice)"]) { mountPoint in
                    let finding = FileSystemOrdering.finding(forPath: mountPoint)
                    #expect(!finding.ordersDataBeforeLinks, "\(finding)")
                    #expect(finding.reason.hasPrefix("external log"), "\(finding)")
                }
            } catch {
                _ = try? await runProcess(losetup, ["-d", logDevice])
                throw error
            }
            _ = try await runProcess(losetup, ["-d", logDevice])
        }
    }

    @Test("tmpfs and a path that does not exist: not ordered")
    func otherFileSystems() throws {
        if FileManager.default.fileExists(atPath: "/dev/shm") {
            let finding = FileSystemOrdering.finding(forPath: "/dev/shm")
            #expect(!finding.ordersDataBeforeLinks, "\(finding)")
            #expect(finding.type == "tmpfs")
        }
        #expect(!FileSystemOrdering.finding(forPath: "/nonexistent/\(UUID())").ordersDataBeforeLinks)
    }

    /// Spools a message with `order` in a Maildir under `root`, delivers it into a second
    /// Maildir and returns whether it was left unsynced and what was delivered.
    static func spoolAndDeliver(in root: String, order: SyncOrder) throws -> (isSynced: Bool, delivered: [UInt8]) {
        let source = Maildir(path: root + "/a")
        let target = Maildir(path: root + "/b")
        try source.create()
        try target.create()
        let spool = try MessageSpool(in: source, name: "m-\(order)")
        try spool.write("Subject: order\r\n\r\nbody\r\n")
        let spooled = try spool.finish(fsync: true, order: order)
        let path = try spooled.deliver(into: target, fsync: true)
        spooled.remove()
        return (spooled.isSynced, MaildirTests.contents(path))
    }

    @Test("automatic on a journaled ext4: written back, durable with its link; portable, or without a journal: synced first")
    func spoolOrder() async throws {
        let expected = Array("Subject: order\n\nbody\n".utf8)
        try await ScratchFileSystem.with { mountPoint in
            let automatic = try Self.spoolAndDeliver(in: mountPoint + "/1", order: .automatic)
            #expect(!automatic.isSynced)
            #expect(automatic.delivered == expected)
            let portable = try Self.spoolAndDeliver(in: mountPoint + "/2", order: .portable)
            #expect(portable.isSynced)
            #expect(portable.delivered == expected)
        }
        try await ScratchFileSystem.with(mkfsOptions: ["-O", "^has_journal"]) { mountPoint in
            let automatic = try Self.spoolAndDeliver(in: mountPoint + "/1", order: .automatic)
            #expect(automatic.isSynced)
            #expect(automatic.delivered == expected)
        }
    }

    /// Spools a message under `root` with `order`, links it into two Maildirs and syncs them
    /// together with a third whose `new/` does not exist; returns the failures, whether the
    /// spool was due a sync, and the copies.
    static func syncTogether(in root: String, order: SyncOrder) throws
        -> (failures: [MaildirError?], wasSynced: Bool, copies: [[UInt8]]) {
        let source = Maildir(path: root + "/a")
        let targets = [Maildir(path: root + "/b"), Maildir(path: root + "/c")]
        try source.create()
        for target in targets { try target.create() }
        let spool = try MessageSpool(in: source, name: "together")
        try spool.write("Subject: together\r\n\r\nbody\r\n")
        let spooled = try spool.finish(fsync: true, order: order)
        let paths = try targets.map { target throws(MaildirError) in try spooled.link(into: target, fsync: true) }
        let failures = spooled.syncLinks(into: targets + [Maildir(path: root + "/missing")])
        spooled.remove()
        return (failures, spooled.isSynced, paths.map(MaildirTests.contents))
    }

    @Test("syncLinks: every new/ synced at once; a new/ that cannot be opened is reported alone")
    func syncTogether() async throws {
        let expected = Array("Subject: together\n\nbody\n".utf8)
        func check(_ result: (failures: [MaildirError?], wasSynced: Bool, copies: [[UInt8]])) {
            #expect(result.failures.count == 3)
            #expect(result.failures[0] == nil)
            #expect(result.failures[1] == nil)
            #expect(result.failures[2]?.errno == ENOENT)
            #expect(result.copies == [expected, expected])
        }
        // The file written back only, made durable by the directories' syncs.
        try await ScratchFileSystem.with { mountPoint in
            let result = try Self.syncTogether(in: mountPoint, order: .automatic)
            #expect(!result.wasSynced)
            check(result)
        }
        // The file synced before its links.
        try await withTemporaryDirectory { root in
            let result = try Self.syncTogether(in: root, order: .portable)
            #expect(result.wasSynced)
            check(result)
        }
    }

    @Test("syncLinks into 70 Maildirs (in groups): each synced, the one without new/ reported at its place")
    func syncManyMaildirs() async throws {
        try await ScratchFileSystem.with { mountPoint in
            let source = Maildir(path: mountPoint + "/source")
            try source.create()
            let spool = try MessageSpool(in: source, name: "many")
            try spool.write("Subject: many\r\n\r\nbody\r\n")
            let spooled = try spool.finish(fsync: true, order: .automatic)
            #expect(!spooled.isSynced)
            var targets: [Maildir] = []
            for index in 0..<70 {
                let target = Maildir(path: mountPoint + "/t\(index)")
                if index != 45 {
                    try target.create()
                    _ = try spooled.link(into: target, fsync: true)
                }
                targets.append(target)
            }
            let failures = spooled.syncLinks(into: targets)
            spooled.remove()
            #expect(failures.count == 70)
            for (index, failure) in failures.enumerated() {
                if index == 45 { #expect(failure?.errno == ENOENT) } else { #expect(failure == nil, "t\(index): \(String(describing: failure))") }
            }
        }
    }
}
