import Foundation
import SMTPClient
import SMTPCore
import Testing
import TestSupport

/// The delivery log on a private PostgreSQL server (Debian's `postgresql`): serve, deliver and
/// the deliveries commands on it, several agents sharing it.
@Suite("The delivery log on PostgreSQL", .timeLimit(.minutes(3)))
struct PostgresLogTests {
    /// `letterbox deliveries list --json` with `arguments`, as rows.
    static func listed(_ url: String, _ arguments: [String] = []) async throws -> [[String: Any]] {
        let listed = try await runProcess(letterboxExecutable(), ["deliveries", "list", "--database", url, "--json"] + arguments)
        #expect(listed.status == 0, "\(listed.output)")
        return (try? JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]]) ?? []
    }

    @Test("serve and deliver write the log on PostgreSQL, the deliveries commands read it with the same keys as on SQLite; serve says whether commits are durable")
    func serveDeliverAndRead() async throws {
        try await PostgresServer.with { server, directory in
            let agent = try await AgentProcess.start(in: directory + "/data", ["--database", server.url])
            defer { agent.stop() }
            let line = try await agent.waitForOutput("delivery log")
            #expect(line.contains("PostgreSQL postgres@") && line.contains("synchronous_commit = on"), "\(line)")
            #expect(try await agent.send(id: "one@pg.test", to: ["a@x.test", "b@x.test"]).map(\.code) == [250, 250])
            // With a Sieve script, whose outcome goes into the log's sieve column.
            try "require \"imap4flags\";\naddflag \"\\\\Seen\";\n".write(toFile: directory + "/seen.sieve", atomically: true, encoding: .utf8)
            let delivered = try await runProcess(letterboxExecutable(), [
                "deliver", "--data-dir", directory + "/data", "--database", server.url, "--hostname", "mx.test",
                "--sender", "s@y.test", "--recipient", "c@x.test", "--sieve-before", directory + "/seen.sieve",
            ], input: "Message-ID: <two@pg.test>\nSubject: two\n\nbody\n")
            #expect(delivered.status == 0, "\(delivered.output)")
            let sieved = try await Self.listed(server.url, ["--recipient", "c@x.test"])
            #expect(sieved.first?["sieve"] as? String == "keep (implicit) flags \\Seen", "\(sieved)")
            #expect((sieved.first?["file"] as? String)?.hasSuffix(":2,S") == true)

            let rows = try await Self.listed(server.url)
            #expect(rows.count == 3)
            #expect(Set(rows.compactMap { $0["recipient"] as? String }) == ["a@x.test", "b@x.test", "c@x.test"])
            #expect(rows.allSatisfy { ($0["status"] as? String) == "delivered" && ($0["file"] as? String) != nil })
            // The same keys a SQLite log gives.
            _ = try await agent.send(id: "three@pg.test", to: ["d@x.test"])
            let sqliteAgent = try await AgentProcess.start(in: directory + "/sqlite")
            defer { sqliteAgent.stop() }
            _ = try await sqliteAgent.send(id: "three@pg.test", to: ["d@x.test"])
            let onSQLite = try await Self.listed(sqliteAgent.database)
            let onPostgres = try await Self.listed(server.url, ["--message-id", "<three@pg.test>"])
            #expect(onSQLite.first.map { Set($0.keys) } == onPostgres.first.map { Set($0.keys) })

            let rowsInSQL = try await server.psql("SELECT COUNT(*) FROM deliveries")
            #expect(rowsInSQL.output.trimmingCharacters(in: .whitespacesAndNewlines) == "4", "\(rowsInSQL.output)")
            let stats = try await runProcess(letterboxExecutable(), ["deliveries", "stats", "--database", server.url, "--json"])
            #expect(stats.status == 0 && stats.output.contains("\"delivered\" : 4"), "\(stats.output)")
            let id = try #require(onPostgres.first?["id"] as? Int)
            let shown = try await runProcess(letterboxExecutable(), ["deliveries", "show", "--database", server.url, "\(id)"])
            #expect(shown.status == 0 && shown.output.contains("d@x.test"), "\(shown.output)")
            let verified = try await runProcess(letterboxExecutable(), [
                "deliveries", "verify", "--database", server.url, "--data-dir", directory + "/data",
            ])
            #expect(verified.status == 0, "\(verified.output)")
        }
    }

    @Test("concurrent deliveries: every 250 has its row, each transaction its recipients, whatever batch carried it")
    func concurrentDeliveries() async throws {
        try await PostgresServer.with { server, directory in
            let agent = try await AgentProcess.start(in: directory + "/data", ["--database", server.url])
            defer { agent.stop() }
            let accepted = try await withThrowingTaskGroup(of: Int.self) { group in
                for client in 0..<6 {
                    group.addTask {
                        var accepted = 0
                        for message in 0..<5 {
                            do {
                                let replies = try await agent.send(id: "c\(client)m\(message)@pg.test",
                                                                   to: ["u\(client)@x.test", "all@x.test"])
                                accepted += replies.filter { $0.code == 250 }.count
                            } catch {
                                Issue.record("client \(client) message \(message): \(error); agent: \(agent.process.outputText)")
                            }
                        }
                        return accepted
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(accepted == 60, "\(agent.process.outputText)")
            let rows = try await server.psql("""
                SELECT COUNT(*), COUNT(DISTINCT transaction_id) FROM deliveries d JOIN transactions t ON t.id = d.transaction_id
                WHERE t.message_id LIKE '<c%@pg.test>' AND d.recipient IN ('all@x.test', 'u' || substr(t.message_id, 3, 1) || '@x.test')
                """)
            #expect(rows.output.trimmingCharacters(in: .whitespacesAndNewlines) == "60|30", "\(rows.output)")
        }
    }

    @Test("two agents on one PostgreSQL log and one mail store: both start at once (one migrates), a message delivered through one is a duplicate through the other, each row names its agent's host")
    func twoAgentsShareTheLog() async throws {
        try await PostgresServer.with { server, directory in
            let mail = directory + "/mail"
            async let first = AgentProcess.start(in: directory + "/a", ["--database", server.url, "--mail-root", mail,
                                                                         "--hostname", "a.test"])
            async let second = AgentProcess.start(in: directory + "/b", ["--database", server.url, "--mail-root", mail,
                                                                          "--hostname", "b.test"])
            let (a, b) = try await (first, second)
            defer { a.stop(); b.stop() }
            let migrations = try await server.psql("SELECT COUNT(*) FROM letterbox_migrations")
            // Each migration once (v1, v3, v4, v5: SQLite's v2 has no PostgreSQL counterpart).
            #expect(migrations.output.trimmingCharacters(in: .whitespacesAndNewlines) == "4", "\(migrations.output)")
            #expect(try await a.send(id: "shared@pg.test", to: ["bob@x.test"]).map(\.code) == [250])
            #expect(try await b.send(id: "shared@pg.test", to: ["bob@x.test"]).map(\.code) == [250])
            let rows = try await Self.listed(server.url, ["--message-id", "<shared@pg.test>"])
            #expect(Set(rows.map { "\($0["status"] ?? "") \($0["host"] ?? "")" }) == ["delivered a.test", "duplicate b.test"], "\(rows)")
            let fromB = try await Self.listed(server.url, ["--host", "b.test"])
            #expect(fromB.map { $0["status"] as? String } == ["duplicate"], "\(fromB)")
            let copies = try FileManager.default.contentsOfDirectory(atPath: mail + "/x.test/bob/new")
            #expect(copies.count == 1, "\(copies)")
        }
    }

    @Test("a URL that names no server, or a database without letterbox's tables: one line naming the server, no usage text")
    func unreachable() async throws {
        try await PostgresServer.with { server, directory in
            let missing = "postgresql://postgres@/letterbox?host=\(directory)/nowhere"
            let listed = try await runProcess(letterboxExecutable(), ["deliveries", "list", "--database", missing])
            #expect(listed.status != 0)
            #expect(listed.output.contains("PostgreSQL postgres@\(directory)/nowhere/.s.PGSQL.5432/letterbox"), "\(listed.output)")
            #expect(!listed.output.contains("USAGE"), "\(listed.output)")
            let empty = try await runProcess(letterboxExecutable(), ["deliveries", "list", "--database", server.url])
            #expect(empty.status != 0 && empty.output.contains("is not a letterbox delivery log"), "\(empty.output)")
        }
    }

    @Test("Sieve's vacation memory on PostgreSQL: letterbox deliver answers a sender once per :days, the row in sieve_responses")
    func vacationMemory() async throws {
        try await withServer { address, recorder, _ in
            try await PostgresServer.with { server, directory in
                try "require \"vacation\";\nvacation :days 3 \"Away.\";\n".write(toFile: directory + "/away.sieve", atomically: true,
                                                                                     encoding: .utf8)
                for id in ["v1", "v2"] {
                    let delivered = try await runProcess(letterboxExecutable(), [
                        "deliver", "--data-dir", directory + "/data", "--database", server.url, "--hostname", "mx.test",
                        "--sender", "s@y.test", "--recipient", "c@x.test", "--sieve-before", directory + "/away.sieve",
                        "--sieve-relay", "127.0.0.1:\(address.port!)",
                    ], input: "To: c@x.test\nMessage-ID: <\(id)@pg.test>\nSubject: \(id)\n\nbody\n")
                    #expect(delivered.status == 0, "\(delivered.output)")
                }
                #expect(recorder.messages.map(\.recipients) == [[Address("s@y.test")!]])
                #expect(recorder.messages.first?.from == .null)
                let rows = try await Self.listed(server.url, ["--recipient", "c@x.test"])
                #expect(Set(rows.compactMap { $0["sieve"] as? String }) == [
                    "keep (implicit); vacation to s@y.test",
                    "keep (implicit); vacation to s@y.test not sent (answered within 3 days)",
                ], "\(rows)")
                let memory = try await server.psql("SELECT recipient || '|' || kind || '|' || address FROM sieve_responses")
                #expect(memory.output.contains("c@x.test|vacation|s@y.test"), "\(memory.output)")
            }
        }
    }
}
