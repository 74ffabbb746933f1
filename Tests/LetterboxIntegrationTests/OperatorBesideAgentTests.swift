import Foundation
import SMTPClient
import SMTPCore
import Testing
import TestSupport

/// The agent at work with an operator beside it, as operators work: the CLI and the `sqlite3`
/// tool (read-write, as people use it) on the log while the agent runs, and `letterbox deliver`
/// from an MTA's pipe transport on the same log at the same time.
@Suite("An operator beside the agent", .serialized, .timeLimit(.minutes(5)))
struct OperatorBesideAgentTests {
    /// The rows `letterbox deliveries list --json` prints for `arguments`.
    static func listed(_ agent: AgentProcess, _ arguments: [String]) async throws -> [[String: Any]] {
        let listed = try await agent.letterbox(["deliveries", "list", "--json", "--limit", "100000"] + arguments)
        #expect(listed.status == 0, "\(listed.output)")
        return (try? JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]]) ?? []
    }

    @Test("after every transaction of 1 to 5 recipients, a separate process sees its rows at once, with sqlite3 opening the log read-write between them; all survive kill -9")
    func rowsVisibleAtOnce() async throws {
        let sqlite = try External.require("sqlite3")
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data")
            defer { agent.stop() }
            let client = try await Client.connect(to: .unix(path: agent.socket), configuration: Client.Configuration(lmtp: true))
            var total = 0
            for count in 1...5 {
                let recipients = (1...count).map { Address("u\($0)@x.test")! }
                let (writer, _) = try await client.beginMessage(from: .mailbox(Address("s@y.test")!), to: recipients)
                try await writer.write("Message-ID: <t\(count)@operator.test>\r\nSubject: \(count)\r\n\r\nbody\r\n")
                let statuses = try await writer.finishWithStatuses()
                #expect(statuses.map(\.reply.code) == Array(repeating: 250, count: count))
                total += count
                let rows = try await Self.listed(agent, ["--message-id", "<t\(count)@operator.test>"])
                #expect(rows.count == count, "transaction \(count): \(rows.count) rows seen by another process")
                let counted = try await runProcess(sqlite, [agent.database, "SELECT COUNT(*) FROM deliveries;"])
                #expect(counted.output == "\(total)\n", "transaction \(count): sqlite3 saw \(counted.output)")
                #expect(FileManager.default.fileExists(atPath: agent.database + "-wal"), "the live WAL was deleted")
            }
            try await client.quit()
            agent.process.signal(SIGKILL)
            _ = await agent.process.exitStatus()
            let after = try await runProcess(sqlite, ["-readonly", agent.database, "PRAGMA integrity_check; SELECT COUNT(*) FROM deliveries;"])
            #expect(after.output == "ok\n\(total)\n", "after kill -9: \(after.output)")
        }
    }

    /// Runs `count` `letterbox deliver` at once into `dataDir`, each with its own Message-ID;
    /// returns each one's exit status and output, by its number.
    static func deliverAtOnce(_ count: Int, dataDir: String, prefix: String) async -> [(Int, Int32, String)] {
        await withTaskGroup(of: (Int, Int32, String).self) { group in
            for index in 0..<count {
                group.addTask {
                    let message = "Message-ID: <\(prefix)\(index)@pipe.test>\nSubject: \(index)\n\nbody \(index)\n"
                    let result = try? await runProcess(letterboxExecutable(), [
                        "deliver", "--data-dir", dataDir, "--hostname", "mx.test", "--sender", "MAILER-DAEMON",
                        "--recipient", "u\(index % 5)@x.test", "--recipient", "all@x.test",
                    ], input: message)
                    return (index, result?.status ?? -1, result?.output ?? "could not run")
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test("40 letterbox deliver at once beside serve on one log, then 40 alone: a row per recipient of every exit 0, the database sound, no status but 0 or 75")
    func parallelDeliver() async throws {
        let sqlite = try External.require("sqlite3")
        try await withTemporaryDirectory { directory in
            let data = directory + "/data"
            let agent = try await AgentProcess.start(in: data)
            // The agent delivers too while the pipes run.
            let client = try await Client.connect(to: .unix(path: agent.socket), configuration: Client.Configuration(lmtp: true))
            async let beside = Self.deliverAtOnce(40, dataDir: data, prefix: "beside")
            var served = 0
            for index in 0..<20 {
                let (writer, _) = try await client.beginMessage(from: .null, to: [Address("lmtp@x.test")!])
                try await writer.write("Message-ID: <served\(index)@lmtp.test>\r\n\r\nbody\r\n")
                if try await writer.finishWithStatuses().first?.reply.code == 250 { served += 1 }
            }
            let first = await beside
            try await client.quit()
            #expect(await agent.stopAndWait() == 0)
            let second = await Self.deliverAtOnce(40, dataDir: data, prefix: "alone")
            for (index, status, output) in first + second where status != 0 {
                #expect(status == 75, "deliver \(index) exited \(status): \(output)")
                #expect(output.split(separator: "\n").count >= 1, "deliver \(index) exited \(status) without saying why")
            }
            let delivered = (first + second).filter { $0.1 == 0 }.count
            let checked = try await runProcess(sqlite, ["-readonly", data + "/deliveries.sqlite", """
                PRAGMA integrity_check;
                SELECT COUNT(*) FROM deliveries d JOIN transactions t ON t.id = d.transaction_id
                    WHERE t.message_id LIKE '<beside%' OR t.message_id LIKE '<alone%';
                SELECT COUNT(*) FROM deliveries WHERE recipient = 'lmtp@x.test';
                SELECT COUNT(*) FROM transactions WHERE sender = '';
                """])
            #expect(checked.output == "ok\n\(2 * delivered)\n\(served)\n\(delivered + served)\n",
                    "\(delivered) runs exited 0, \(served) LMTP 250s: \(checked.output)")
            #expect(delivered >= 60, "only \(delivered) of 80 runs delivered")
            let files = (try? FileManager.default.contentsOfDirectory(atPath: data + "/mail/x.test/all/new")) ?? []
            #expect(files.count == delivered)
            print("parallel deliver: \(first.filter { $0.1 == 0 }.count)/40 beside serve and \(second.filter { $0.1 == 0 }.count)/40 alone exited 0; rows \(checked.output.split(separator: "\n").dropFirst().first ?? "?")")
        }
    }
}
