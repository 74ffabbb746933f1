import Foundation
import SMTPClient
import SMTPCore
import Testing
import TestSupport

/// RFC 5321 §6.3 loop detection, as Postfix's local(8) does it: a message that already carries
/// `Delivered-To:` a recipient is refused for that recipient alone with 554 5.4.6.
@Suite("Delivered-To loop detection", .timeLimit(.minutes(1)))
struct MailLoopTests {
    @Test("a stored message sent back to the same recipient is refused for it (554 5.4.6) and delivered to the others")
    func loopRefused() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data", ["--recipient-delimiter", "+"])
            #expect(try await agent.send(id: "loop@x.test", to: ["alice+lists@x.test"]).map(\.code) == [250])
            let stored = try #require(agent.newFiles("x.test/alice").first)
            let message = try String(contentsOfFile: stored, encoding: .utf8)
            #expect(message.contains("\nDelivered-To: alice+lists@x.test\n"))   // stored with LF line ends

            // The stored message comes back (a forward to itself) to alice, in any case, and to bob.
            for alice in ["alice+lists@x.test", "Alice+Lists@X.TEST"] {
                let client = try await Client.connect(to: .unix(path: agent.socket), configuration: Client.Configuration(lmtp: true))
                let (writer, _) = try await client.beginMessage(from: .mailbox(Address("s@y.test")!),
                                                                 to: [Address(alice)!, Address("bob@x.test")!])
                try await writer.write(message)
                let replies = try await writer.finishWithStatuses().map(\.reply)
                try await client.quit()
                #expect(replies.map(\.code) == [554, 250], "\(replies)")
                #expect(replies[0].enhancedCode == EnhancedCode(5, 4, 6))
                #expect(replies[0].lines.first?.contains("Mail loop") == true)
            }
            #expect(agent.newFiles("x.test/alice").count == 1)
            // bob got it once: the second time it is the same message again (a duplicate).
            #expect(agent.newFiles("x.test/bob").count == 1)
            let failed = try await agent.letterbox(["deliveries", "list", "--status", "failed", "--json"])
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(failed.output.utf8)) as? [[String: Any]])
            #expect(rows.count == 2 && rows.allSatisfy { $0["code"] as? Int == 554 && $0["recipient"] as? String == "alice@x.test" })
            _ = await agent.stopAndWait()
        }
    }
}
