import Foundation
import SMTPClient
import SMTPCore
import Testing
import TestSupport

/// Faults around the running agent: each ends in a precise 4xx for the recipients affected,
/// nothing partial in new/, no leaked descriptor or temporary file, and the agent still serving.
@Suite("Faults", .timeLimit(.minutes(5)))
struct FaultTests {
    /// LETTERBOX_ABORTS sets the number of aborted transactions (1,000 by default, as CI runs
    /// it; docs/reliability.md records a run of 10,000).
    static var aborts: Int { Int(ProcessInfo.processInfo.environment["LETTERBOX_ABORTS"] ?? "") ?? 1000 }

    static func openDescriptors(_ pid: Int32) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
    }

    static func files(_ directory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    }

    /// Delivers one message to `recipients`; returns the codes after the data.
    static func deliver(_ socket: String, to recipients: [String]) async throws -> [Int] {
        let client = try await Client.connect(to: .unix(path: socket), configuration: Client.Configuration(lmtp: true))
        let (writer, _) = try await client.beginMessage(from: .mailbox(Address("alice@x.test")!), to: recipients.map { Address($0)! })
        try await writer.write("Subject: fault test\r\n\r\nbody\r\n")
        let codes = try await writer.finishWithStatuses().map(\.reply.code)
        try await client.quit()
        return codes
    }

    @Test("clients that vanish in the middle of DATA or of a BDAT chunk leak neither descriptors nor tmp/ files")
    func abortedTransactions() async throws {
        let python = try External.require("python3")
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data")
            defer { agent.stop() }
            // Warm up (the log, the thread pool, the Maildirs exist), then take the baseline.
            #expect(try await Self.deliver(agent.socket, to: ["bob@x.test", "carol@x.test"]) == [250, 250])
            try await Task.sleep(for: .milliseconds(200))
            let baseline = Self.openDescriptors(agent.process.processIdentifier)
            let script = """
            import socket, sys
            path, count = sys.argv[1], int(sys.argv[2])
            def expect(f, code):
                while True:
                    line = f.readline()
                    if not line:
                        sys.exit("closed early")
                    if line[3:4] != b"-":
                        if not line.startswith(code):
                            sys.exit("unexpected " + repr(line))
                        return
            for n in range(count):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                f = s.makefile("rb")
                expect(f, b"220")
                s.sendall(b"LHLO abort.test\\r\\n"); expect(f, b"250")
                s.sendall(b"MAIL FROM:<a@x.test>\\r\\n"); expect(f, b"250")
                s.sendall(b"RCPT TO:<bob@x.test>\\r\\n"); expect(f, b"250")
                s.sendall(b"RCPT TO:<carol@x.test>\\r\\n"); expect(f, b"250")
                if n % 2 == 0:
                    s.sendall(b"DATA\\r\\n"); expect(f, b"354")
                    s.sendall(b"Subject: cut\\r\\n\\r\\n" + b"x" * (n % 5000) + b"\\r\\npartial line without end")
                else:
                    s.sendall(b"BDAT 100000\\r\\n" + b"y" * (n % 5000))
                s.close()
            print("aborted", count)
            """
            let result = try await runProcess(python, ["-c", script, agent.socket, String(Self.aborts)])
            #expect(result.status == 0, "\(result.output)")
            // The server notices each close on its own schedule; give it a moment to settle.
            var descriptors = Int.max
            for _ in 0..<200 where descriptors > baseline {
                try await Task.sleep(for: .milliseconds(25))
                descriptors = Self.openDescriptors(agent.process.processIdentifier)
            }
            #expect(descriptors <= baseline, "descriptors: \(baseline) before, \(descriptors) after \(Self.aborts) aborted transactions")
            for user in ["bob", "carol"] {
                let maildir = agent.mailRoot + "/x.test/" + user
                #expect(Self.files(maildir + "/tmp").isEmpty, "tmp/ of \(user): \(Self.files(maildir + "/tmp").count) files")
                #expect(Self.files(maildir + "/new").count == 1)
            }
            // Still serving.
            #expect(try await Self.deliver(agent.socket, to: ["bob@x.test"]) == [250])
            print("aborted transactions: \(Self.aborts), descriptors \(baseline) before and \(descriptors) after, tmp/ empty")
        }
    }

    @Test("the log locked by another process past the busy timeout: 451 4.3.0 for everyone, nothing in new/, then it recovers")
    func databaseLocked() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data")
            defer { agent.stop() }
            #expect(try await Self.deliver(agent.socket, to: ["bob@x.test"]) == [250])
            // Another process holds the write lock until the test kills it (at most 60 s); the
            // agent waits 5 s at most.
            let holder = try await DatabaseLockHolder.hold(agent.database)
            defer { holder.kill() }
            let client = try await Client.connect(to: .unix(path: agent.socket), configuration: Client.Configuration(lmtp: true))
            let (writer, _) = try await client.beginMessage(from: .mailbox(Address("alice@x.test")!),
                                                            to: [Address("bob@x.test")!, Address("carol@x.test")!])
            try await writer.write("Subject: while locked\r\n\r\nbody\r\n")
            let statuses = try await writer.finishWithStatuses()
            #expect(statuses.map(\.reply.code) == [451, 451])
            #expect(statuses.allSatisfy { $0.reply.enhancedCode == EnhancedCode(4, 3, 0) })
            #expect(Self.files(agent.mailRoot + "/x.test/bob/new").count == 1)
            #expect(Self.files(agent.mailRoot + "/x.test/carol/new").isEmpty)
            #expect(Self.files(agent.mailRoot + "/x.test/bob/tmp").isEmpty)
            // The same connection works once the lock is gone.
            await holder.release()
            let (again, _) = try await client.beginMessage(from: .mailbox(Address("alice@x.test")!),
                                                           to: [Address("bob@x.test")!, Address("carol@x.test")!])
            try await again.write("Subject: after the lock\r\n\r\nbody\r\n")
            #expect(try await again.finishWithStatuses().map(\.reply.code) == [250, 250])
            try await client.quit()
        }
    }

    @Test("a Maildir deleted while the agent runs is made again on the next delivery; one made unwritable defers only its owner")
    func deletedAndUnwritableMaildirs() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data")
            defer { agent.stop() }
            #expect(try await Self.deliver(agent.socket, to: ["bob@x.test", "carol@x.test"]) == [250, 250])
            try FileManager.default.removeItem(atPath: agent.mailRoot + "/x.test/bob")
            #expect(try await Self.deliver(agent.socket, to: ["bob@x.test"]) == [250])
            #expect(Self.files(agent.mailRoot + "/x.test/bob/new").count == 1)
            // new/ replaced by a file: no user, not even root, can link into it.
            let carolNew = agent.mailRoot + "/x.test/carol/new"
            try FileManager.default.removeItem(atPath: carolNew)
            try "not a directory".write(toFile: carolNew, atomically: false, encoding: .utf8)
            let client = try await Client.connect(to: .unix(path: agent.socket), configuration: Client.Configuration(lmtp: true))
            let (writer, _) = try await client.beginMessage(from: .mailbox(Address("alice@x.test")!),
                                                            to: [Address("carol@x.test")!, Address("bob@x.test")!])
            try await writer.write("Subject: one broken\r\n\r\nbody\r\n")
            let statuses = try await writer.finishWithStatuses()
            try await client.quit()
            #expect(statuses.map(\.reply.code) == [451, 250])
            #expect(statuses.first?.reply.enhancedCode == EnhancedCode(4, 3, 0))
            #expect(Self.files(agent.mailRoot + "/x.test/bob/new").count == 2)
            #expect(Self.files(agent.mailRoot + "/x.test/bob/tmp").isEmpty && Self.files(agent.mailRoot + "/x.test/carol/tmp").isEmpty)
        }
    }

    @Test("the log's file system full: 451 4.3.0 for everyone, the links taken back, and 250 once there is room")
    func databaseFull() async throws {
        try await withTemporaryDirectory { directory in
            let state = directory + "/state"
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            guard mount("tmpfs", state, "tmpfs", 0, "size=1m") == 0 else {
                try External.unavailable("cannot mount a tmpfs (errno \(errno)); needs root")
            }
            let mailRoot = directory + "/mail"
            try await withAgent(logIn: state, mailRoot: mailRoot, release: { umount(state) }) { agent in
                // Fill what is left of the file system the log lives on.
                let filler = state + "/filler"
                let descriptor = open(filler, O_WRONLY | O_CREAT, 0o600)
                let block = [UInt8](repeating: 0, count: 4096)
                while write(descriptor, block, block.count) == block.count {}
                close(descriptor)
                let refused = try await Self.deliver(agent.socket, to: ["bob@x.test", "carol@x.test"])
                #expect(refused == [451, 451])
                #expect(Self.files(mailRoot + "/x.test/bob/new").count == 1)
                #expect(Self.files(mailRoot + "/x.test/carol/new").isEmpty)
                try FileManager.default.removeItem(atPath: filler)
                #expect(try await Self.deliver(agent.socket, to: ["bob@x.test", "carol@x.test"]) == [250, 250])
                let verify = try await runProcess(letterboxExecutable(), ["deliveries", "verify", "--data-dir", state + "/data",
                                                                          "--mail-root", mailRoot])
                #expect(verify.status == 0, "\(verify.output)")
            }
        }
    }

    @Test("the log's file system turned read-only by the kernel under the running agent: 451 4.3.0, the links taken back, still serving")
    func databaseReadOnly() async throws {
        try await withTemporaryDirectory { directory in
            let losetup = try External.require("losetup"), mkfs = try External.require("mkfs.ext4")
            let mountTool = try External.require("mount")
            // An ext4 file system on a loop device, mounted with errors=remount-ro: the kernel's
            // own fault injection (trigger_fs_error) then turns it read-only with the log open
            // for writing, as a failing disk would. A plain `mount -o remount,ro` is refused
            // while a file is open for writing, so this is the only way it happens for real.
            let image = directory + "/state.img", state = directory + "/state"
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: image, contents: nil), truncate(image, 16 << 20) == 0,
                  try await runProcess(mkfs, ["-q", "-F", image]).status == 0 else {
                Issue.record("cannot make the ext4 image")
                return
            }
            let attach = try await runProcess(losetup, ["--find", "--show", image])
            let device = attach.output.trimmingCharacters(in: .whitespacesAndNewlines)
            guard attach.status == 0, device.hasPrefix("/dev/"),
                  try await runProcess(mountTool, ["-o", "errors=remount-ro", device, state]).status == 0 else {
                try External.unavailable("cannot attach and mount a loop device: \(attach.output); needs root")
            }
            let mailRoot = directory + "/mail"
            try await withAgent(logIn: state, mailRoot: mailRoot, release: {
                umount(state)
                _ = try? await runProcess(losetup, ["--detach", device])
            }) { agent in
                let trigger = "/sys/fs/ext4/" + (device as NSString).lastPathComponent + "/trigger_fs_error"
                try "letterbox fault test\n".write(toFile: trigger, atomically: false, encoding: .utf8)
                for attempt in 0..<2 {
                    let refused = try await Self.deliver(agent.socket, to: ["bob@x.test", "carol@x.test"])
                    #expect(refused == [451, 451], "attempt \(attempt)")
                }
                #expect(Self.files(mailRoot + "/x.test/bob/new").count == 1)
                #expect(Self.files(mailRoot + "/x.test/carol/new").isEmpty)
                #expect(Self.files(mailRoot + "/x.test/bob/tmp").isEmpty && Self.files(mailRoot + "/x.test/carol/tmp").isEmpty)
                #expect(agent.process.isRunning)
                // What was committed before the fault is still readable.
                let list = try await agent.letterbox(["deliveries", "list", "--json"])
                #expect(list.status == 0 && list.output.contains("bob@x.test"), "\(list.output)")
            }
        }
    }

    /// Runs the agent with its log under `state` (a file system the test mounted) and its mail
    /// under `mailRoot`, delivers once to bob (250), runs `body`, recording what it throws, then
    /// stops the agent and waits for its exit before `release` lets go of the file system.
    private func withAgent(logIn state: String, mailRoot: String, release: () async -> Void,
                           _ body: (AgentProcess) async throws -> Void) async throws {
        let agent: AgentProcess
        do {
            agent = try await AgentProcess.start(in: state + "/data", ["--mail-root", mailRoot])
        } catch {
            await release()
            throw error
        }
        do {
            #expect(try await Self.deliver(agent.socket, to: ["bob@x.test"]) == [250])
            try await body(agent)
        } catch {
            Issue.record(error)
        }
        _ = await agent.stopAndWait()
        await release()
    }
}
