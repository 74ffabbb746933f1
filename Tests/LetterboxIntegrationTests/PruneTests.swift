import Foundation
import Testing
import TestSupport

/// `letterbox deliveries prune` and `serve --retention`, on SQLite beside a running agent and
/// on PostgreSQL.
@Suite("Pruning the delivery log", .timeLimit(.minutes(3)))
struct PruneTests {
    /// Sends `count` messages, one recipient each, through `agent`.
    static func fill(_ agent: AgentProcess, _ count: Int, prefix: String) async throws {
        for index in 0..<count {
            #expect(try await agent.send(id: "\(prefix)\(index)@prune.test", to: ["u\(index % 3)@x.test"]).map(\.code) == [250])
        }
    }

    @Test("prune beside the running agent: old transactions and their deliveries go in batches, foreign keys hold, the newest stays, the agent delivers on")
    func pruneSQLite() async throws {
        let sqlite = try External.require("sqlite3")
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data")
            defer { agent.stop() }
            try await Self.fill(agent, 12, prefix: "p")
            // Seven of them a year old, as sqlite3 in an operator's hands makes them.
            let aged = try await runProcess(sqlite, [agent.database, """
                UPDATE transactions SET time = '2025-01-01T00:00:00.000000Z' WHERE id <= 7;
                UPDATE deliveries SET time = '2025-01-01T00:00:00.000000Z' WHERE transaction_id <= 7;
                """])
            #expect(aged.status == 0, "\(aged.output)")
            let pruned = try await agent.letterbox(["deliveries", "prune", "--older-than", "90d", "--batch", "3"])
            #expect(pruned.status == 0 && pruned.output.hasPrefix("pruned 7 transactions and their deliveries older than "), "\(pruned.output)")
            let counts = try await runProcess(sqlite, [agent.database,
                "SELECT (SELECT COUNT(*) FROM transactions), (SELECT COUNT(*) FROM deliveries), (SELECT MIN(id) FROM transactions);"])
            #expect(counts.output == "5|5|8\n", "\(counts.output)")
            let checks = try await runProcess(sqlite, [agent.database, "PRAGMA foreign_key_check; PRAGMA integrity_check;"])
            #expect(checks.output == "ok\n", "\(checks.output)")
            // Everything old: all but the newest go, so ids keep growing.
            _ = try await runProcess(sqlite, [agent.database, """
                UPDATE transactions SET time = '2025-01-01T00:00:00.000000Z';
                UPDATE deliveries SET time = '2025-01-01T00:00:00.000000Z';
                """])
            // On a terminal (script(1) gives it one) the running count is shown.
            let script = try External.require("script")
            let command = [letterboxExecutable(), "deliveries", "prune", "--data-dir", agent.dataDir, "--older-than", "30d", "--batch", "1"]
            let again = try await runProcess(script, ["-qec", command.joined(separator: " "), "/dev/null"])
            #expect(again.output.contains("transactions pruned: 3") && again.output.contains("pruned 4 transactions"), "\(again.output)")
            #expect(try await agent.send(id: "after@prune.test", to: ["u0@x.test"]).map(\.code) == [250])
            let ids = try await runProcess(sqlite, [agent.database, "SELECT id FROM transactions ORDER BY id;"])
            #expect(ids.output == "12\n13\n", "\(ids.output)")
            let refused = try await agent.letterbox(["deliveries", "prune", "--older-than", "soon"])
            #expect(refused.status == 64)
        }
    }

    @Test("serve --retention prunes at start and says so; a retention shorter than the duplicate window is refused")
    func retention() async throws {
        let sqlite = try External.require("sqlite3")
        try await withTemporaryDirectory { directory in
            let first = try await AgentProcess.start(in: directory + "/data")
            try await Self.fill(first, 4, prefix: "r")
            _ = await first.stopAndWait()
            _ = try await runProcess(sqlite, [directory + "/data/deliveries.sqlite", """
                UPDATE transactions SET time = '2025-01-01T00:00:00.000000Z' WHERE id <= 2;
                UPDATE deliveries SET time = '2025-01-01T00:00:00.000000Z' WHERE transaction_id <= 2;
                """])
            let refused = try await runProcess(letterboxExecutable(), ["serve", "--data-dir", directory + "/data", "--retention", "1h"])
            #expect(refused.status == 78 && refused.output.contains("shorter than --duplicate-window 24h"), "\(refused.output)")

            let agent = try await AgentProcess.start(in: directory + "/data", ["--retention", "30d", "--log-level", "notice"])
            defer { agent.stop() }
            let output = try await agent.waitForOutput("delivery log pruned")
            #expect(output.contains("removed=2"), "\(output)")
            let left = try await runProcess(sqlite, [agent.database, "SELECT COUNT(*) FROM transactions;"])
            #expect(left.output == "2\n")
        }
    }

    @Test("prune on a PostgreSQL log")
    func prunePostgres() async throws {
        try await PostgresServer.with { server, directory in
            let agent = try await AgentProcess.start(in: directory + "/data", ["--database", server.url])
            defer { agent.stop() }
            try await Self.fill(agent, 6, prefix: "g")
            let aged = try await server.psql("""
                UPDATE transactions SET time = '2025-01-01T00:00:00.000000Z' WHERE id IN (SELECT id FROM transactions ORDER BY id LIMIT 4);
                UPDATE deliveries SET time = '2025-01-01T00:00:00.000000Z';
                """)
            #expect(aged.status == 0, "\(aged.output)")
            let pruned = try await runProcess(letterboxExecutable(), ["deliveries", "prune", "--database", server.url, "--older-than", "90d",
                                                                      "--batch", "3"])
            #expect(pruned.status == 0 && pruned.output.hasPrefix("pruned 4 transactions"), "\(pruned.output)")
            let counts = try await server.psql("SELECT (SELECT COUNT(*) FROM transactions) || '|' || (SELECT COUNT(*) FROM deliveries)")
            #expect(counts.output.trimmingCharacters(in: .whitespacesAndNewlines) == "2|2", "\(counts.output)")
            #expect(try await agent.send(id: "after@prune.test", to: ["u0@x.test"]).map(\.code) == [250])
        }
    }
}
