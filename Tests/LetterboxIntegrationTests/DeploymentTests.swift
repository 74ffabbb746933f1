import Foundation
import SMTPClient
import SMTPCore
import Testing
import TestSupport

/// The deployment files and ways of starting the agent that operators use.
@Suite("Deployment", .timeLimit(.minutes(1)))
struct DeploymentTests {
    /// The repository's root, from this file's path.
    @Test("contrib/letterbox.conf is accepted as is by serve --config")
    func sampleConfig() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data", ["--config", repositoryRoot + "/contrib/letterbox.conf"])
            defer { agent.stop() }
            let client = try await Client.connect(to: .unix(path: agent.socket), configuration: Client.Configuration(lmtp: true))
            let (writer, _) = try await client.beginMessage(from: .null, to: [Address("bob@x.test")!])
            try await writer.write("configured\r\n")
            #expect(try await writer.finishWithStatuses().map(\.reply.code) == [250])
            try await client.quit()
            var info = stat()
            #expect(stat(agent.socket, &info) == 0 && info.st_mode & 0o777 == 0o660)
        }
    }

    @Test("contrib/letterbox.conf names every setting letterbox config knows, set or commented out")
    func sampleConfigComplete() async throws {
        let sample = try String(contentsOfFile: repositoryRoot + "/contrib/letterbox.conf", encoding: .utf8)
        let settings = try await runProcess(letterboxExecutable(), ["config", "--config", "/dev/null"])
        let names = settings.output.split(separator: "\n").dropFirst().map { line in
            String((line.hasPrefix("# ") ? line.dropFirst(2) : line).split(separator: " ")[0])
        }
        #expect(names.count >= 25)
        for name in names {
            #expect(sample.contains("\n\(name) = ") || sample.contains("\n# \(name) = "), "\(name) is missing from contrib/letterbox.conf")
        }
    }

    @Test("socket activation: serve takes the listening socket systemd passes (LISTEN_FDS) instead of making one")
    func socketActivation() async throws {
        try await withTemporaryDirectory { directory in
            let socket = directory + "/activated.sock"
            // Python plays systemd: bind and listen, put the socket on descriptor 3, set
            // LISTEN_FDS and LISTEN_PID to its own pid, then exec letterbox (same pid).
            let launcher = """
            import os, socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(sys.argv[1])
            s.listen(16)
            if s.fileno() != 3:
                os.dup2(s.fileno(), 3)
            os.set_inheritable(3, True)
            os.environ["LISTEN_FDS"] = "1"
            os.environ["LISTEN_PID"] = str(os.getpid())
            os.execv(sys.argv[2], [sys.argv[2]] + sys.argv[3:])
            """
            let python = try External.require("python3")
            let process = try ChildProcess(python, ["-c", launcher, socket, letterboxExecutable(), "serve", "--data-dir", directory + "/data",
                                                    "--log-level", "warning"])
            defer { process.signal(SIGTERM) }
            // The socket exists at once (Python made it); wait until letterbox answers on it.
            var client: Client?
            for _ in 0..<200 where client == nil {
                client = try? await Client.connect(to: .unix(path: socket), configuration: Client.Configuration(lmtp: true))
                if client == nil { try await Task.sleep(for: .milliseconds(25)) }
            }
            let connected = try #require(client)
            let (writer, _) = try await connected.beginMessage(from: .null, to: [Address("bob@x.test")!])
            try await writer.write("activated\r\n")
            #expect(try await writer.finishWithStatuses().map(\.reply.code) == [250])
            try await connected.quit()
            #expect(!FileManager.default.fileExists(atPath: directory + "/data/lmtp.sock"))
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: directory + "/data/mail/x.test/bob/new")) ?? []).count == 1)
        }
    }

    @Test("swaks --protocol LMTP delivers through the socket")
    func swaks() async throws {
        try await withTemporaryDirectory { directory in
            let swaks = try External.require("swaks")
            let agent = try await AgentProcess.start(in: directory + "/data")
            defer { agent.stop() }
            let result = try await runProcess(swaks, ["--protocol", "LMTP", "--socket", agent.socket, "--from", "alice@example.org",
                                                      "--to", "bob@x.test", "--header", "Subject: from swaks", "--body", "swaks body"])
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains("250 2.0.0 <bob@x.test> Ok"))
            let files = agent.newFiles("x.test/bob")
            #expect(files.count == 1)
            #expect(((try? String(contentsOfFile: files.first ?? "", encoding: .utf8)) ?? "").contains("Subject: from swaks"))
        }
    }
}

/// The configuration shown in docs/postfix.md and docs/exim.md is the one in contrib/, which
/// the Postfix and Exim tests paste into their instances.
@Suite("docs/postfix.md and docs/exim.md")
struct MTADocumentTests {
    static func lines(_ file: String) throws -> Set<String> {
        Set(try String(contentsOfFile: repositoryRoot + "/" + file, encoding: .utf8)
            .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
    }

    static func shown(_ document: String, _ language: String) throws -> [String] {
        try fencedBlocks(inFile: repositoryRoot + "/docs/" + document, language: language)
            .flatMap { $0.split(separator: "\n") }.map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    @Test("every main.cf line of docs/postfix.md is in contrib/postfix")
    func postfix() throws {
        let contrib = try Self.lines("contrib/postfix/main.cf.virtual").union(Self.lines("contrib/postfix/main.cf.mailbox"))
        let shown = try Self.shown("postfix.md", "postfix")
        #expect(shown.count >= 8)
        for line in shown { #expect(contrib.contains(line), "\(line)") }
    }

    @Test("the router and transport of docs/exim.md are contrib/exim's")
    func exim() throws {
        let contrib = try Self.lines("contrib/exim/letterbox.conf")
        let shown = try Self.shown("exim.md", "exim").filter { !$0.hasPrefix("begin ") }
        #expect(shown.count >= 8)
        for line in shown { #expect(contrib.contains(line), "\(line)") }
    }

    @Test("the letterbox.conf lines of docs/postfix.md are options of contrib/letterbox.conf")
    func letterboxConfiguration() throws {
        let sample = try Self.lines("contrib/letterbox.conf")
        let shown = try Self.shown("postfix.md", "letterbox.conf")
        #expect(shown.count == 3)
        for line in shown {
            let name = String(line.prefix { $0 != " " })
            #expect(sample.contains { $0.hasPrefix(name + " = ") || $0.hasPrefix("# " + name + " = ") }, "\(line)")
        }
    }
}
