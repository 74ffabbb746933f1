import Foundation
import NIOCore
import NIOPosix
import SMTPClient
import SMTPCore
import Testing
import TestSupport

/// The operator-facing options of `letterbox serve`: the config file, SIGHUP, TCP, socket mode,
/// JSON logs, and LETTERBOX_DATA_DIR.
@Suite("letterbox serve options", .timeLimit(.minutes(2)))
struct ServeOptionsTests {
    @Test("a config file sets options, the command line overrides it; socket mode and JSON logs apply")
    func configFile() async throws {
        try await withTemporaryDirectory { directory in
            let config = directory + "/letterbox.conf"
            try """
            # letterbox configuration
            socket-mode = 0600
            domain = x.test
            domain = y.test     # a second local domain
            hostname = from-config.test
            log-format = json
            log-level = info
            quota-tempfail = true
            """.write(toFile: config, atomically: true, encoding: .utf8)
            // The harness passes --log-level warning; info here, on the command line, wins again.
            let agent = try await AgentProcess.start(in: directory + "/data", ["--config", config, "--hostname", "from-cli.test", "--log-level", "info"])
            var info = stat()
            #expect(stat(agent.socket, &info) == 0 && info.st_mode & 0o777 == 0o600)
            #expect(try await agent.rcptCodes(["a@x.test", "b@y.test", "c@z.test"]) == [250, 250, 550])
            let client = try await Client.connect(to: .unix(path: agent.socket), configuration: Client.Configuration(lmtp: true))
            #expect(client.greeting.lines.first?.hasPrefix("from-cli.test ") == true)
            try await client.quit()
            _ = await agent.stopAndWait()
            let output = await agent.process.outputToEnd()
            let jsonLines = output.split(separator: "\n").filter { $0.hasPrefix("{") }
            #expect(!jsonLines.isEmpty)
            for line in jsonLines {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
                #expect(object?["level"] != nil && object?["message"] != nil)
            }
            let broken = directory + "/broken.conf"
            try "this is not an option line\n".write(toFile: broken, atomically: true, encoding: .utf8)
            let refused = try await runProcess(letterboxExecutable(), ["serve", "--config", broken, "--data-dir", directory + "/other"])
            #expect(refused.status == 78)
            #expect(refused.output == "letterbox serve: bad configuration file: \(broken):1: expected `option = value`\n")
        }
    }

    @Test("--tmp-sweep: tmp/ is swept again while the agent runs, of files that turned 36 hours old; fresh ones stay")
    func periodicSweep() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data", ["--tmp-sweep", "1s", "--log-level", "notice"])
            #expect(try await agent.send(id: "sweep@x.test", to: ["ann@x.test"]).map(\.code) == [250])
            let tmp = agent.mailRoot + "/x.test/ann/tmp"
            try "old".write(toFile: tmp + "/old-leftover", atomically: false, encoding: .utf8)
            try "new".write(toFile: tmp + "/fresh-leftover", atomically: false, encoding: .utf8)
            var old = [timeval(tv_sec: time(nil) - 40 * 3600, tv_usec: 0), timeval(tv_sec: time(nil) - 40 * 3600, tv_usec: 0)]
            #expect(utimes(tmp + "/old-leftover", &old) == 0)
            let log = try await agent.waitForOutput("old-leftover")
            #expect(log.contains("removed stale files from tmp/"), "\(log)")
            #expect(!FileManager.default.fileExists(atPath: tmp + "/old-leftover"))
            #expect(FileManager.default.fileExists(atPath: tmp + "/fresh-leftover"))
            _ = await agent.stopAndWait()
            let refused = try await runProcess(letterboxExecutable(), ["serve", "--data-dir", directory + "/x", "--tmp-sweep", "often"])
            #expect(refused.status == 78, "\(refused.output)")
        }
    }

    @Test("one info line per message with its recipients and Message-ID; with stderr the journal, syslog priorities and no time")
    func messageLineAndJournal() async throws {
        try await withTemporaryDirectory { directory in
            let plain = try await AgentProcess.start(in: directory + "/plain", ["--log-level", "info"])
            #expect(try await plain.send(id: "plain@x.test", to: ["a@x.test", "b@x.test"]).map(\.code) == [250, 250])
            let line = try await plain.waitForOutput("letterbox.recipients=")
            #expect(line.contains(" info message letterbox.from=<s@y.test> letterbox.message_id=<plain@x.test> "
                                  + "letterbox.recipients=a@x.test=250/delivered b@x.test=250/delivered letterbox.session="), "\(line)")
            _ = await plain.stopAndWait()

            // As systemd starts it: JOURNAL_STREAM names standard error's device and inode.
            let wrapper = ["/bin/sh", "-c", "JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec \"$0\" \"$@\""]
            let journal = try await AgentProcess.start(in: directory + "/journal", ["--log-level", "info"], under: wrapper)
            #expect(try await journal.send(id: "journal@x.test", to: ["a@x.test"]).map(\.code) == [250])
            let output = try await journal.waitForOutput("letterbox.recipients=")
            #expect(output.contains("\n<6>info message letterbox.from=<s@y.test>") || output.hasPrefix("<6>info message"), "\(output)")
            #expect(output.contains("<6>info tmp/ checked"), "\(output)")
            _ = await journal.stopAndWait()
            #expect(await journal.process.outputToEnd().contains("<5>notice shutting down"))
        }
    }

    @Test("--event-loops sets the protocol threads (one by default); 0 is refused")
    func eventLoops() async throws {
        func loopThreads(_ pid: Int32) -> Int {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
            return tasks.filter {
                ((try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/comm", encoding: .utf8)) ?? "").hasPrefix("NIO-ELT")
            }.count
        }
        try await withTemporaryDirectory { directory in
            for (arguments, expected) in [([String](), 1), (["--event-loops", "3"], 3)] {
                let agent = try await AgentProcess.start(in: directory + "/data\(expected)", arguments)
                #expect(try await agent.rcptCodes(["bob@x.test"]) == [250])
                #expect(loopThreads(agent.process.processIdentifier) == expected)
                _ = await agent.stopAndWait()
            }
            let refused = try await runProcess(letterboxExecutable(), ["serve", "--data-dir", directory + "/data0", "--event-loops", "0"])
            #expect(refused.status != 0 && refused.output.contains("--event-loops"), "\(refused.output)")
        }
    }

    @Test("glibc's malloc arenas are capped at 2 before any thread starts, unless MALLOC_ARENA_MAX says otherwise")
    func mallocArenas() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data", ["--log-level", "debug"])
            let output = try await agent.waitForOutput("malloc arenas")
            #expect(output.contains("limit=2"), "\(output)")
            _ = await agent.stopAndWait()
            // In the agent's environment only: setenv here would race with every other test
            // reading the runner's environment while it starts a program.
            let configured = try await AgentProcess.start(in: directory + "/data2", ["--log-level", "debug"],
                                                          environment: ["MALLOC_ARENA_MAX": "4"])
            let kept = try await configured.waitForOutput("malloc arenas")
            #expect(kept.contains("environment"), "\(kept)")
            _ = await configured.stopAndWait()
        }
    }

    @Test("SIGHUP reloads the users file")
    func reloadUsers() async throws {
        try await withTemporaryDirectory { directory in
            let users = directory + "/users"
            try "alice@x.test\n".write(toFile: users, atomically: true, encoding: .utf8)
            let agent = try await AgentProcess.start(in: directory + "/data", ["--users", users])
            defer { agent.stop() }
            #expect(try await agent.rcptCodes(["alice@x.test", "carol@x.test"]) == [250, 550])
            try "alice@x.test\ncarol@x.test\n".write(toFile: users, atomically: true, encoding: .utf8)
            agent.process.signal(SIGHUP)
            var codes: [Int] = []
            for _ in 0..<100 {
                codes = try await agent.rcptCodes(["carol@x.test"])
                if codes == [250] { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(codes == [250])
        }
    }

    @Test("--tcp adds an LMTP listener on loopback; LETTERBOX_DATA_DIR replaces --data-dir")
    func tcpAndEnvironment() async throws {
        try await withTemporaryDirectory { directory in
            let port = try await freeTCPPort()
            let agent = try await AgentProcess.start(in: directory + "/data", ["--tcp", "127.0.0.1:\(port)"])
            defer { agent.stop() }
            // The Unix socket (which start waits for) is listening before the TCP one: wait
            // for the agent's own line about the TCP listener.
            let listening = try await agent.waitForOutput("(port \(port))")
            #expect(listening.contains("(port \(port))"), "\(listening)")
            let client = try await Client.connect(to: .tcp(host: "127.0.0.1", port: port), configuration: Client.Configuration(lmtp: true))
            let (writer, _) = try await client.beginMessage(from: .null, to: [Address("bob@x.test")!])
            try await writer.write("over tcp\r\n")
            #expect(try await writer.finishWithStatuses().map(\.reply.code) == [250])
            try await client.quit()
            let stats = try await runProcess(letterboxExecutable(), ["deliveries", "stats", "--json"],
                                             environment: ["LETTERBOX_DATA_DIR": agent.dataDir])
            #expect(stats.output.contains("\"delivered\" : 1"))
            let table = try await runProcess(letterboxExecutable(), ["deliveries", "list"], environment: ["LETTERBOX_DATA_DIR": agent.dataDir])
            #expect(table.output.hasPrefix("ID  TIME"))
            #expect(table.output.contains("delivered  250 2.0.0  bob@x.test"))
            let shown = try await runProcess(letterboxExecutable(), ["deliveries", "show", "1"], environment: ["LETTERBOX_DATA_DIR": agent.dataDir])
            #expect(shown.output.contains("recipient           bob@x.test"))
            let missing = try await runProcess(letterboxExecutable(), ["deliveries", "show", "99"], environment: ["LETTERBOX_DATA_DIR": agent.dataDir])
            #expect(missing.status != 0)
        }
    }
}
