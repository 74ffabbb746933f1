import Foundation
import NIOCore
import NIOPosix
import Testing
import TestSupport

/// What `letterbox` says when it cannot do its work: one line naming the command, what failed,
/// the file, socket or address, and the cause; a sysexits status; no usage text; and for
/// `serve`, nothing created before everything was checked.
@Suite("letterbox error messages and exit statuses", .timeLimit(.minutes(2)))
struct CommandErrorTests {
    /// Runs letterbox; the output must be exactly one line.
    func oneLine(_ arguments: [String], in directory: String) async throws -> (status: Int32, line: String) {
        let run = try await runProcess(letterboxExecutable(), arguments, currentDirectory: directory)
        let lines = run.output.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "not one line: \(run.output)")
        #expect(!run.output.contains("Usage:") && !run.output.contains("errno") && !run.output.contains("Error Domain"))
        return (run.status, String(lines[0]))
    }

    @Test("serve refuses a socket or port in use, bad users lines, a bad template, before creating anything")
    func serveChecksFirst() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/running")
            // A TCP port another socket holds.
            let group = MultiThreadedEventLoopGroup.singleton
            let holder = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
            let port = holder.localAddress!.port!

            let inUse = try await oneLine(["serve", "--data-dir", "running"], in: directory)
            #expect(inUse == (73, "letterbox serve: cannot listen: running/lmtp.sock: another process is listening on this socket"))

            let portTaken = try await oneLine(["serve", "--data-dir", "fresh", "--tcp", "127.0.0.1:\(port)"], in: directory)
            #expect(portTaken == (73, "letterbox serve: cannot listen: tcp:127.0.0.1:\(port): Address already in use"))

            try "nobody\na@b.test\nc@d.test quota=lots\n".write(toFile: directory + "/users", atomically: true, encoding: .utf8)
            let users = try await oneLine(["serve", "--data-dir", "fresh", "--users", "users"], in: directory)
            #expect(users == (78, "letterbox serve: bad users file: users: line 1: nobody is not an address; line 3: unknown setting quota=lots"))

            let missing = try await oneLine(["serve", "--data-dir", "fresh", "--users", "nowhere"], in: directory)
            #expect(missing == (66, "letterbox serve: cannot read the users file: nowhere: No such file or directory"))

            let escape = try await oneLine(["serve", "--data-dir", "fresh", "--mailbox-template", "%d/%x"], in: directory)
            #expect(escape == (78, "letterbox serve: bad --mailbox-template: %d/%x: unknown escape %x (the escapes are %u, %d and %n)"))

            let outside = try await oneLine(["serve", "--data-dir", "fresh", "--mailbox-template", "../%n"], in: directory)
            #expect(outside.status == 78 && outside.line.hasPrefix("letterbox serve: bad --mailbox-template: ../%n: "))

            let unwritable = try await oneLine(["serve", "--data-dir", "/proc/letterbox"], in: directory)
            #expect(unwritable.status == 73 && unwritable.line.hasPrefix("letterbox serve: cannot create the data directory: /proc/letterbox: "))

            // None of the refused starts left anything behind.
            #expect(!FileManager.default.fileExists(atPath: directory + "/fresh"))
            try await holder.close()
            _ = await agent.stopAndWait()
        }
    }

    @Test("options with fixed values list their choices; runtime failures of the other commands are one line")
    func otherCommands() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data")
            let fsync = try await runProcess(letterboxExecutable(), ["serve", "--data-dir", directory + "/x", "--fsync", "sometimes"])
            #expect(fsync.status == 64 && fsync.output.contains("'always', 'portable' or 'never'"), "\(fsync.output)")
            let status = try await agent.letterbox(["deliveries", "list", "--status", "lost"])
            #expect(status.status == 64 && status.output.contains("'delivered', 'failed', 'deferred' or 'duplicate'"))
            let level = try await runProcess(letterboxExecutable(), ["serve", "--data-dir", directory + "/x", "--log-level", "loud"])
            #expect(level.status == 64 && level.output.contains("- critical"))

            let show = try await oneLine(["deliveries", "show", "999", "--data-dir", "data"], in: directory)
            #expect(show == (68, "letterbox deliveries show: no delivery 999 in data/deliveries.sqlite"))

            let send = try await oneLine(["send", "--server", "unix:none.sock", "--from", "a@b.test", "--to", "c@d.test"], in: directory)
            #expect(send == (75, "letterbox send: cannot send through unix:none.sock: No such file or directory"))

            try "colour = blue\n".write(toFile: directory + "/bad.conf", atomically: true, encoding: .utf8)
            let config = try await oneLine(["deliveries", "list", "--config", "bad.conf"], in: directory)
            #expect(config == (78, "letterbox deliveries list: bad configuration file: bad.conf:1: unknown option `colour`"))
            _ = await agent.stopAndWait()
        }
    }

    @Test("--since takes RFC 3339, a date, a duration, today and yesterday")
    func sinceForms() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data")
            #expect(try await agent.send(id: "since@x.test", to: ["bob@x.test"]).map(\.code) == [250])
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyy-MM-dd"
            let today = formatter.string(from: Date())
            let tomorrow = formatter.string(from: Date().addingTimeInterval(86_400))
            for (since, expected) in [("today", 1), ("yesterday", 1), (today, 1), (tomorrow, 0), ("2h", 1), ("2000-01-01T00:00:00Z", 1)] {
                let run = try await agent.letterbox(["deliveries", "list", "--since", since, "--json"])
                #expect(run.status == 0, "\(since): \(run.output)")
                let rows = try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [Any]
                #expect(rows?.count == expected, "\(since)")
            }
            let stats = try await agent.letterbox(["deliveries", "stats", "--since", "yesterday", "--json"])
            #expect(stats.status == 0 && stats.output.contains("\"delivered\" : 1"), "\(stats.output)")
            _ = await agent.stopAndWait()
        }
    }

    @Test("check exits 0 when the agent answers LHLO and 69 when nothing answers")
    func check() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data")
            let answering = try await agent.letterbox(["check"])
            #expect(answering.status == 0 && answering.output == "unix:\(agent.socket): LMTP agent answering\n", "\(answering.output)")
            _ = await agent.stopAndWait()
            let gone = try await oneLine(["check", "--data-dir", "data"], in: directory)
            #expect(gone.status == 69 && gone.line.hasPrefix("letterbox check: unix:data/lmtp.sock: "), "\(gone.line)")
            // A socket file nobody listens on, and a TCP port nobody listens on.
            let refused = try await oneLine(["check", "--tcp", "127.0.0.1:1"], in: directory)
            #expect(refused == (69, "letterbox check: 127.0.0.1:1: Connection refused"))
        }
    }
}
