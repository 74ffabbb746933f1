import Foundation
import SMTPClient
import SMTPCore
import Testing
import TestSupport

/// Sieve at delivery, through the real agent: users' scripts filing into folders with flags,
/// rejecting one recipient beside another's 250, discarding, a broken script keeping the
/// message, before and after scripts around the user's; the log's `sieve` column says which.
@Suite("Sieve at delivery", .timeLimit(.minutes(2)))
struct SieveDeliveryTests {
    static func rows(_ agent: AgentProcess) async throws -> [[String: Any]] {
        let listed = try await agent.letterbox(["deliveries", "list", "--json"])
        return (try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]]) ?? []
    }

    static func files(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    @Test("fileinto with flags into cur/, keep beside it (one file, two links), reject as 550 5.7.1 for that recipient only, discard, a broken script keeps")
    func agent() async throws {
        try await withTemporaryDirectory { directory in
            let mail = directory + "/data/mail"
            func script(_ user: String, _ text: String) throws {
                try FileManager.default.createDirectory(atPath: mail + "/x.test/" + user, withIntermediateDirectories: true)
                try text.write(toFile: mail + "/x.test/" + user + "/.sieve", atomically: true, encoding: .utf8)
            }
            try script("alice", """
                require ["fileinto", "imap4flags", "mailbox"];
                if header :contains "subject" "report" { fileinto :create :flags "\\\\Seen" "Reports"; keep; }
                """)
            try script("bob", "require \"reject\";\nif header :contains \"subject\" \"report\" { reject \"No reports here.\"; }\n")
            try script("carol", "discard;\n")
            try script("dave", "require \"fileinto\";\nfileinto;\n")
            let agent = try await AgentProcess.start(in: directory + "/data", ["--sieve", "%d/%n/.sieve"])
            defer { agent.stop() }
            let client = try await Client.connect(to: .unix(path: agent.socket), configuration: Client.Configuration(lmtp: true))
            let recipients = ["alice", "bob", "carol", "dave", "erin"].map { Address("\($0)@x.test")! }
            let (writer, _) = try await client.beginMessage(from: .mailbox(Address("s@y.test")!), to: recipients)
            try await writer.write("Message-ID: <sieve-1@y.test>\r\nSubject: weekly report\r\n\r\nbody\r\n")
            let statuses = try await writer.finishWithStatuses()
            try await client.quit()
            #expect(statuses.map(\.reply.code) == [250, 550, 250, 250, 250])
            #expect(statuses[1].reply.enhancedCode == EnhancedCode(5, 7, 1) && statuses[1].reply.text().contains("No reports here."))

            // alice: the folder's copy in cur/ with S, the inbox's in new/, one file.
            let reports = Self.files(mail + "/x.test/alice/.Reports/cur")
            #expect(reports.count == 1 && reports.first?.hasSuffix(":2,S") == true)
            let inbox = agent.newFiles("x.test/alice")
            #expect(inbox.count == 1)
            let a = try FileManager.default.attributesOfItem(atPath: mail + "/x.test/alice/.Reports/cur/" + reports[0])
            let b = try FileManager.default.attributesOfItem(atPath: inbox[0])
            #expect(a[.systemFileNumber] as? Int == b[.systemFileNumber] as? Int)
            #expect(agent.newFiles("x.test/bob").isEmpty && agent.newFiles("x.test/carol").isEmpty)
            #expect(agent.newFiles("x.test/dave").count == 1 && agent.newFiles("x.test/erin").count == 1)

            let rows = try await Self.rows(agent)
            func row(_ user: String) -> [String: Any]? { rows.first { $0["recipient"] as? String == "\(user)@x.test" } }
            #expect(row("alice")?["sieve"] as? String == "fileinto Reports flags \\Seen; keep")
            #expect(row("bob")?["sieve"] as? String == "reject" && row("bob")?["status"] as? String == "failed")
            #expect(row("carol")?["sieve"] as? String == "discard" && row("carol")?["status"] as? String == "delivered")
            #expect(row("carol")?["file"] is NSNull)
            #expect((row("dave")?["sieve"] as? String)?.hasPrefix("error: .sieve: line 2") == true)
            #expect(row("erin")?["sieve"] is NSNull)
            let id = try #require(row("alice")?["id"] as? Int)
            let shown = try await agent.letterbox(["deliveries", "show", String(id)])
            #expect(shown.output.contains("sieve               fileinto Reports flags \\Seen; keep"))

            // verify knows both of alice's links: nothing unlogged; one taken away is missing.
            let verified = try await agent.letterbox(["deliveries", "verify", "--strict"])
            #expect(verified.status == 0 && verified.output.contains("unlogged: 0") && verified.output.contains("missing: 0"), "\(verified.output)")
            try FileManager.default.removeItem(atPath: mail + "/x.test/alice/.Reports/cur/" + reports[0])
            let missing = try await agent.letterbox(["deliveries", "verify", "--json"])
            #expect(missing.status != 0 && missing.output.contains("x.test/alice/.Reports"), "\(missing.output)")
        }
    }

    @Test("before and after scripts around the user's, as Pigeonhole runs them: a filing before script ends the sequence; keep lets it go on")
    func sequence() async throws {
        try await withTemporaryDirectory { directory in
            let before = directory + "/before.sieve", after = directory + "/after.sieve"
            try "require \"fileinto\";\nif header :contains \"subject\" \"spam\" { fileinto \"Junk\"; }\n"
                .write(toFile: before, atomically: true, encoding: .utf8)
            try "require \"fileinto\";\nfileinto \"Seen-by-after\";\n".write(toFile: after, atomically: true, encoding: .utf8)
            let agent = try await AgentProcess.start(in: directory + "/data", ["--sieve-before", before, "--sieve-after", after,
                                                                               "--sieve-create-folders"])
            defer { agent.stop() }
            #expect(try await agent.send(id: "spam offer", to: ["fay@x.test"]).map(\.code) == [250])
            #expect(try await agent.send(id: "hello", to: ["fay@x.test"]).map(\.code) == [250])
            let mail = agent.mailRoot + "/x.test/fay"
            #expect(Self.files(mail + "/.Junk/new").count == 1)
            #expect(Self.files(mail + "/.Seen-by-after/new").count == 1)
            #expect(agent.newFiles("x.test/fay").isEmpty)
        }
        // A broken before script is refused at start, naming it.
        try await withTemporaryDirectory { directory in
            try "fileinto \"x\";\n".write(toFile: directory + "/bad.sieve", atomically: true, encoding: .utf8)
            let result = try await runProcess(letterboxExecutable(), ["serve", "--data-dir", directory + "/data",
                                                                      "--sieve-before", directory + "/bad.sieve"])
            #expect(result.status == 78)
            #expect(result.output.contains("bad --sieve-before script: \(directory)/bad.sieve: line 1"))
        }
    }
}
