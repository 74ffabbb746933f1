import Foundation
import NIOCore
import NIOPosix
import SMTPClient
import SMTPCore
import SMTPServer
import Testing
import TestSupport

/// Sieve's redirect and vacation through the real agent and `--sieve-relay`, received by a real
/// SMTP server on the loopback: what goes out (envelope, trace fields, RFC 3834 fields), the
/// replies the recipients get (250 for a redirect or a vacation, 451 when a redirect cannot
/// go), and the log's memory that keeps a vacation to once per `:days` and a redirect to once
/// per message, read back with `sqlite3` as an operator would.
@Suite("Sieve redirect and vacation", .timeLimit(.minutes(2)))
struct SieveRelayTests {
    static func script(_ mail: String, _ user: String, _ text: String) throws {
        try FileManager.default.createDirectory(atPath: mail + "/x.test/" + user, withIntermediateDirectories: true)
        try text.write(toFile: mail + "/x.test/" + user + "/.sieve", atomically: true, encoding: .utf8)
    }

    /// Sends one message over LMTP; the replies' codes.
    static func send(_ agent: AgentProcess, id: String, to users: [String]) async throws -> [Reply] {
        let client = try await Client.connect(to: .unix(path: agent.socket), configuration: Client.Configuration(lmtp: true))
        let recipients = users.map { Address("\($0)@x.test")! }
        let (writer, _) = try await client.beginMessage(from: .mailbox(Address("s@y.test")!), to: recipients)
        try await writer.write("""
            From: Sender <s@y.test>\r
            To: \(recipients.map(\.description).joined(separator: ", "))\r
            Message-ID: <\(id)@y.test>\r
            References: <root@y.test>\r
            \t<parent@y.test>\r
            Subject: news \(id)\r
            \r
            body of \(id)\r

            """)
        let statuses = try await writer.finishWithStatuses()
        try await client.quit()
        return statuses.map(\.reply)
    }

    static func rows(_ agent: AgentProcess) async throws -> [[String: Any]] {
        let listed = try await agent.letterbox(["deliveries", "list", "--json"])
        return (try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]]) ?? []
    }

    @Test("redirect (alone and with :copy) and vacation go through the relay; a refused redirect answers 451; each is sent once")
    func relay() async throws {
        var behaviour = Behaviour()
        behaviour.rejectRecipient = { address in
            address.localPart == "refused" ? SMTPError(code: 550, enhancedCode: EnhancedCode(5, 1, 1), message: "no such user") : nil
        }
        try await withServer(behaviour: behaviour) { address, recorder, _ in
            try await withTemporaryDirectory { directory in
                let mail = directory + "/data/mail"
                try Self.script(mail, "alice", "redirect \"fwd@elsewhere.test\";\n")
                try Self.script(mail, "bob", "require \"copy\";\nredirect :copy \"b2@elsewhere.test\";\n")
                try Self.script(mail, "carol", """
                    require "vacation";
                    vacation :days 2 :subject "Away until Monday" "I am away; back on Monday.";
                    """)
                try Self.script(mail, "dave", "redirect \"refused@elsewhere.test\";\n")
                let agent = try await AgentProcess.start(in: directory + "/data", ["--sieve", "%d/%n/.sieve",
                                                                                   "--sieve-relay", "127.0.0.1:\(address.port!)"])
                defer { agent.stop() }
                let first = try await Self.send(agent, id: "m1", to: ["alice", "bob", "carol", "dave"])
                #expect(first.map(\.code) == [250, 250, 250, 451])
                #expect(first[3].enhancedCode == EnhancedCode(4, 3, 0) && first[3].text().contains("refused@elsewhere.test"))

                let messages = recorder.messages
                let redirected = messages.filter { $0.recipients == [Address("fwd@elsewhere.test")!] }
                #expect(redirected.count == 1)
                if let message = redirected.first {
                    // From the original sender; the agent's Return-Path left out, its
                    // Delivered-To naming alice (the message had several recipients, so the
                    // stored trace names none) so that a redirect coming back is a loop.
                    #expect(message.from == .mailbox(Address("s@y.test")!))
                    #expect(message.body.hasPrefix("Delivered-To: alice@x.test\r\nReceived: from "))
                    #expect(!message.body.contains("Return-Path:"))
                    #expect(message.body.contains("Message-ID: <m1@y.test>\r\n") && message.body.hasSuffix("body of m1\r\n"))
                }
                #expect(messages.filter { $0.recipients == [Address("b2@elsewhere.test")!] }.count == 1)
                let replies = messages.filter { $0.recipients == [Address("s@y.test")!] }
                #expect(replies.count == 1)
                if let reply = replies.first {
                    #expect(reply.from == .null)
                    for field in ["From: <carol@x.test>\r\n", "To: <s@y.test>\r\n", "Subject: Away until Monday\r\n",
                                  "In-Reply-To: <m1@y.test>\r\n", "References: <root@y.test>\r\n <parent@y.test>\r\n <m1@y.test>\r\n",
                                  "Auto-Submitted: auto-replied (vacation)\r\n",
                                  "\r\n\r\nI am away; back on Monday.\r\n"] {
                        #expect(reply.body.contains(field), "\(field)")
                    }
                }
                // Stored: bob's copy only (alice's went on, carol's kept, dave's not delivered).
                #expect(agent.newFiles("x.test/alice").isEmpty && agent.newFiles("x.test/dave").isEmpty)
                #expect(agent.newFiles("x.test/bob").count == 1 && agent.newFiles("x.test/carol").count == 1)

                // Again, as the MTA would deliver dave's after the 451, and a second message:
                // alice's redirect of m1 went already, carol answered s@y.test within two days.
                let again = try await Self.send(agent, id: "m1", to: ["alice", "dave"])
                #expect(again.map(\.code) == [250, 451])
                let second = try await Self.send(agent, id: "m2", to: ["carol"])
                #expect(second.map(\.code) == [250])
                #expect(recorder.messages.count == messages.count)
                #expect(agent.newFiles("x.test/carol").count == 2)

                let rows = try await Self.rows(agent)
                func sieve(_ user: String) -> [String] {
                    rows.filter { $0["recipient"] as? String == "\(user)@x.test" }.compactMap { $0["sieve"] as? String }.sorted()
                }
                #expect(sieve("alice") == ["redirect to fwd@elsewhere.test", "redirect to fwd@elsewhere.test (sent before)"])
                #expect(sieve("bob") == ["keep (implicit); redirect to b2@elsewhere.test"])
                #expect(sieve("carol") == ["keep (implicit); vacation to s@y.test",
                                           "keep (implicit); vacation to s@y.test not sent (answered within 2 days)"])
                #expect(sieve("dave").count == 2 && sieve("dave").allSatisfy { $0.hasPrefix("redirect to refused@elsewhere.test failed: ") })
                let alice = rows.first { $0["recipient"] as? String == "alice@x.test" }
                #expect(alice?["status"] as? String == "delivered" && alice?["file"] is NSNull)
                #expect((alice?["text"] as? String)?.hasSuffix("redirected by Sieve") == true)

                // The memory, as an operator reads it.
                let memory = try await runProcess("/usr/bin/sqlite3", [agent.database,
                                                                       "SELECT recipient, kind, address FROM sieve_responses ORDER BY kind"])
                #expect(memory.status == 0)
                #expect(memory.output == "alice@x.test|redirect|fwd@elsewhere.test\nbob@x.test|redirect|b2@elsewhere.test\ncarol@x.test|vacation|s@y.test\n")

                // Discarded, with a vacation reply: nothing stored, the reply sent, the row says both.
                try Self.script(mail, "erin", "require \"vacation\";\nvacation \"Gone.\";\ndiscard;\n")
                #expect(try await Self.send(agent, id: "m3", to: ["erin"]).map(\.code) == [250])
                #expect(recorder.messages.filter { $0.recipients == [Address("s@y.test")!] && $0.body.contains("Gone.") }.count == 1)
                #expect(agent.newFiles("x.test/erin").isEmpty)
                let erin = try await Self.rows(agent).first { $0["recipient"] as? String == "erin@x.test" }
                #expect(erin?["sieve"] as? String == "discard; vacation to s@y.test", "\(String(describing: erin))")
                #expect((erin?["text"] as? String)?.hasSuffix("discarded by Sieve") == true)
            }
        }
    }

    @Test("with the relay down a redirect answers 451 and stores nothing; a vacation reply is logged as failed and the message kept")
    func relayDown() async throws {
        try await withTemporaryDirectory { directory in
            // A port nothing listens on: bound, then closed.
            let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
            let port = probe.localAddress!.port!
            try await probe.close()
            let mail = directory + "/data/mail"
            try Self.script(mail, "alice", "require \"copy\";\nredirect :copy \"fwd@elsewhere.test\";\n")
            try Self.script(mail, "carol", "require \"vacation\";\nvacation \"Away.\";\n")
            let agent = try await AgentProcess.start(in: directory + "/data", ["--sieve", "%d/%n/.sieve",
                                                                               "--sieve-relay", "127.0.0.1:\(port)"])
            defer { agent.stop() }
            let replies = try await Self.send(agent, id: "d1", to: ["alice", "carol"])
            #expect(replies.map(\.code) == [451, 250])
            #expect(agent.newFiles("x.test/alice").isEmpty && agent.newFiles("x.test/carol").count == 1)
            let rows = try await Self.rows(agent)
            let carol = rows.first { $0["recipient"] as? String == "carol@x.test" }
            #expect((carol?["sieve"] as? String)?.hasPrefix("keep (implicit); vacation to s@y.test failed: ") == true)
            let memory = try await runProcess("/usr/bin/sqlite3", [agent.database, "SELECT count(*) FROM sieve_responses"])
            #expect(memory.output == "0\n")
        }
    }

    @Test("without --sieve-relay a redirect keeps the message and says why; --sieve-relay alone is refused")
    func noRelay() async throws {
        try await withTemporaryDirectory { directory in
            try Self.script(directory + "/data/mail", "alice", "redirect \"fwd@elsewhere.test\";\n")
            let agent = try await AgentProcess.start(in: directory + "/data", ["--sieve", "%d/%n/.sieve"])
            defer { agent.stop() }
            #expect(try await Self.send(agent, id: "n1", to: ["alice"]).map(\.code) == [250])
            #expect(agent.newFiles("x.test/alice").count == 1)
            let rows = try await Self.rows(agent)
            #expect(rows.first?["sieve"] as? String == "error: redirect to fwd@elsewhere.test: no --sieve-relay to send it through; keep")
            let refused = try await runProcess(letterboxExecutable(), ["serve", "--data-dir", directory + "/other",
                                                                       "--sieve-relay", "127.0.0.1:25"])
            #expect(refused.status == 78 && refused.output.contains("--sieve-relay needs --sieve"))
        }
    }
}
