import Foundation
import NIOCore
import Testing
import TestSupport

/// A hostile client against `letterbox serve` on its socket: each attack gets the documented
/// reply (docs/protocol.md, docs/security.md), nothing is written outside the mail root, and the
/// agent keeps serving.
@Suite("Hostile clients", .timeLimit(.minutes(3)))
struct HostileClientTests {
    static func withAgent(_ arguments: [String] = [], _ body: (AgentProcess, SocketAddress) async throws -> Void) async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data", arguments)
            defer { agent.stop() }
            try await body(agent, try SocketAddress(unixDomainSocketPath: agent.socket))
            // Whatever happened, the agent still delivers.
            try await TestClient.with(try SocketAddress(unixDomainSocketPath: agent.socket)) { client in
                _ = try await client.reply()
                _ = try await client.readReplyAfter("LHLO after.test")
                #expect(try await client.command("MAIL FROM:<a@x.test>").hasPrefix("250"))
                #expect(try await client.command("RCPT TO:<after@x.test>").hasPrefix("250"))
                #expect(try await client.command("DATA").hasPrefix("354"))
                #expect(try await client.command("Subject: still serving\r\n\r\nok\r\n.").hasPrefix("250"))
            }
            // Nothing outside the data directory.
            #expect(Set(try FileManager.default.contentsOfDirectory(atPath: directory)) == ["data"])
        }
    }

    static func files(_ agent: AgentProcess, _ user: String) -> [String] {
        agent.newFiles("x.test/" + user).map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" }
    }

    /// The SMTP smuggling end-of-data variants (SEC Consult, 2023) and their relatives.
    static let smuggling = ["\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\r", "\n.\r", "\r.\n", "\r\n\u{0}.\r\n"]

    @Test("smuggled end-of-data sequences in DATA are body bytes: one message, one reply, the smuggled commands stored, not run")
    func smugglingInData() async throws {
        try await Self.withAgent { agent, address in
            try await TestClient.with(address) { client in
                _ = try await client.reply()
                _ = try await client.readReplyAfter("LHLO evil.test")
                for sequence in Self.smuggling {
                    #expect(try await client.command("MAIL FROM:<a@x.test>").hasPrefix("250"))
                    #expect(try await client.command("RCPT TO:<bob@x.test>").hasPrefix("250"))
                    #expect(try await client.command("DATA").hasPrefix("354"))
                    try await client.send("Subject: smuggling\r\n\r\nbefore" + sequence
                                          + "MAIL FROM:<evil@x.test>\r\nRCPT TO:<carol@x.test>\r\nDATA\r\nsmuggled\r\n.\r\n")
                    #expect(try await client.reply().hasPrefix("250 2.0.0 <bob@x.test>"), "\(sequence.debugDescription)")
                    // In sync: the next reply is NOOP's.
                    #expect(try await client.command("NOOP") == "250 2.0.0 Ok")
                }
            }
            let stored = Self.files(agent, "bob")
            #expect(stored.count == Self.smuggling.count)
            #expect(stored.allSatisfy { $0.contains("RCPT TO:<carol@x.test>") && $0.contains("smuggled") })
            #expect(agent.newFiles("x.test/carol").isEmpty && agent.newFiles("x.test/evil").isEmpty)
        }
    }

    @Test("BDAT: an end-of-data sequence and commands inside a chunk are body bytes")
    func smugglingInBDAT() async throws {
        try await Self.withAgent { agent, address in
            try await TestClient.with(address) { client in
                _ = try await client.reply()
                _ = try await client.readReplyAfter("LHLO evil.test")
                let chunk = "Subject: bdat\r\n\r\nbefore\r\n.\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<carol@x.test>\r\nDATA\r\nx\r\n.\r\n"
                #expect(try await client.command("MAIL FROM:<a@x.test>").hasPrefix("250"))
                #expect(try await client.command("RCPT TO:<bob@x.test>").hasPrefix("250"))
                try await client.send("BDAT \(chunk.utf8.count) LAST\r\n" + chunk)
                #expect(try await client.reply().hasPrefix("250 2.0.0 <bob@x.test>"))
                #expect(try await client.command("NOOP") == "250 2.0.0 Ok")
            }
            #expect(Self.files(agent, "bob").count == 1)
            #expect(agent.newFiles("x.test/carol").isEmpty)
        }
    }

    @Test("bare CR, bare LF and NUL inside commands, invalid UTF-8, a 1 MB line: refused, and the session goes on")
    func malformedCommands() async throws {
        try await Self.withAgent { _, address in
            try await TestClient.with(address) { client in
                _ = try await client.reply()
                _ = try await client.readReplyAfter("LHLO evil.test")
                let refusal = "501 5.5.2 Syntax error: CR, LF or NUL in command"
                #expect(try await client.command("MAIL FROM:<a@x.test>\rRCPT TO:<carol@x.test>") == refusal)
                #expect(try await client.command("MAIL FROM:<a@x.test>\nRCPT TO:<carol@x.test>") == refusal)
                #expect(try await client.command("NOOP x\u{0}RSET") == refusal)
                // Inside the verb, NUL makes an unknown command.
                #expect(try await client.command("NOOP\u{0}RSET") == "500 5.5.2 Error: command not recognized")
                try await client.send(bytes: Array("MAIL FROM:<".utf8) + [0xFF, 0xFE] + Array("@x.test>\r\n".utf8))
                #expect(try await client.reply() == "501 5.5.2 Syntax error: command is not valid UTF-8")
                try await client.send(bytes: Array("MAIL FROM:<".utf8) + [0xC3] + Array("@x.test> SMTPUTF8\r\n".utf8))
                #expect(try await client.reply() == "501 5.5.2 Syntax error: command is not valid UTF-8")
                #expect(try await client.command("MAIL FROM:<josé@x.test>").hasPrefix("553 5.6.7"))
                try await client.send("NOOP " + String(repeating: "a", count: 1 << 20) + "\r\n")
                #expect(try await client.reply() == "500 5.5.2 Error: line too long")
                #expect(try await client.command("NOOP") == "250 2.0.0 Ok")
            }
        }
    }

    @Test("10,000 pipelined RCPTs over the limit: 452 4.5.3 until the error budget is spent, then 421 4.7.0 and the connection closes")
    func recipientFlood() async throws {
        try await Self.withAgent(["--max-recipients", "100"]) { agent, address in
            try await TestClient.with(address) { client in
                _ = try await client.reply()
                _ = try await client.readReplyAfter("LHLO evil.test")
                var batch = "MAIL FROM:<a@x.test>\r\n"
                for number in 0..<10_000 { batch += "RCPT TO:<user\(number % 5)@x.test>\r\n" }
                try await client.send(batch)
                #expect(try await client.reply().hasPrefix("250"))
                var codes: [String: Int] = [:]
                while let line = try await client.readLine() { codes[String(line.prefix(9)), default: 0] += 1 }
                #expect(codes == ["250 2.1.5": 100, "452 4.5.3": 20, "421 4.7.0": 1])
            }
            for user in 0..<5 { #expect(agent.newFiles("x.test/user\(user)").isEmpty) }
        }
    }

    @Test("10,000 recipients within the limit: 10,000 LMTP replies, one file per mailbox")
    func tenThousandRecipients() async throws {
        try await Self.withAgent(["--max-recipients", "20000"]) { agent, address in
            try await TestClient.with(address) { client in
                _ = try await client.reply()
                _ = try await client.readReplyAfter("LHLO many.test")
                var batch = "MAIL FROM:<a@x.test>\r\n"
                for number in 0..<10_000 { batch += "RCPT TO:<user\(number % 5)@x.test>\r\n" }
                try await client.send(batch + "DATA\r\n")
                var accepted = 0
                for _ in 0...10_000 where try await client.reply().hasPrefix("250") { accepted += 1 }
                #expect(accepted == 10_001)
                #expect(try await client.reply().hasPrefix("354"))
                try await client.send("Subject: many\r\n\r\nbody\r\n.\r\n")
                var delivered = 0
                for _ in 0..<10_000 where try await client.reply().hasPrefix("250") { delivered += 1 }
                #expect(delivered == 10_000)
            }
            for user in 0..<5 { #expect(agent.newFiles("x.test/user\(user)").count == 1) }
        }
    }

    @Test("envelope addresses cannot inject header fields or leave the mail root")
    func injectionAndTraversal() async throws {
        try await Self.withAgent(["--recipient-delimiter", "+", "--detail-folders", "create"]) { agent, address in
            try await TestClient.with(address) { client in
                _ = try await client.reply()
                _ = try await client.readReplyAfter("LHLO evil.test")
                #expect(try await client.command(#"MAIL FROM:<"x\"y Return-Path: evil"@x.test>"#).hasPrefix("250"))
                for hostile in ["../../../etc@x.test", "bob+../../escape@x.test", "bob+.hidden@x.test", "..@x.test", "bob@..",
                                #"bob\/..@x.test"#, "bob+a/b@x.test", "bob@x.test/../../tmp"] {
                    let reply = try await client.command("RCPT TO:<\(hostile)>")
                    #expect(reply.hasPrefix("550 5.1.3") || reply.hasPrefix("501") || reply.hasPrefix("553"), "\(hostile): \(reply)")
                }
                // Percent signs are not decoded: a mailbox of that literal name, inside the root.
                #expect(try await client.command("RCPT TO:<%2e%2e@x.test>").hasPrefix("250"))
                #expect(try await client.command("RCPT TO:<bob@x.test>").hasPrefix("250"))
                #expect(try await client.command("DATA").hasPrefix("354"))
                #expect(try await client.command("Subject: injected?\r\n\r\nbody\r\n.").hasPrefix("250"))
                #expect(try await client.reply().hasPrefix("250"))
            }
            let stored = try #require(Self.files(agent, "bob").first)
            let header = stored.components(separatedBy: "\n\n").first ?? ""
            #expect(header.split(separator: "\n").filter { $0.hasPrefix("Return-Path:") }.count == 1)
            #expect(header.split(separator: "\n").first?.hasPrefix(#"Return-Path: <"x\"y Return-Path: evil"@x.test>"#) == true, "\(header)")
            // Only the domain directory the test used exists under the mail root.
            #expect(try FileManager.default.contentsOfDirectory(atPath: agent.mailRoot) == ["x.test"])
            #expect(try FileManager.default.contentsOfDirectory(atPath: agent.mailRoot + "/x.test").sorted() == ["%2e%2e", "bob"])
        }
    }
}

extension TestClient {
    /// Sends `line` and reads a whole (possibly multi-line) reply.
    func readReplyAfter(_ line: String) async throws -> [String] {
        try await self.line(line)
        return try await readReply()
    }
}
