import Foundation
import Testing
import TestSupport

/// The kill -9 harness (CrashTests' clients) with the delivery log on PostgreSQL: after every
/// kill, every 250 has its delivered row on the server; at the end, each is backed by one
/// intact file.
@Suite("Crashes with the log on PostgreSQL", .serialized, .timeLimit(.minutes(10)))
struct PostgresCrashTests {
    @Test("every 250 survives kill -9 with the log on PostgreSQL: its row committed on the server, one intact file")
    func killNine() async throws {
        try await PostgresServer.with { server, directory in
            let data = directory + "/data"
            let confirmed = CrashTests.Confirmations()
            var generator = SystemRandomNumberGenerator()
            for round in 0..<CrashTests.kills {
                let agent = try await AgentProcess.start(in: data, ["--database", server.url])
                let delay = Int.random(in: 50...500, using: &generator)
                _ = try await CrashTests.deliverUntilKilled(agent, after: .milliseconds(delay), round: round, confirmed: confirmed,
                                                            atLeast: 1)
                let rows = try await server.psql("""
                    SELECT d.recipient || ' ' || t.message_id FROM deliveries d JOIN transactions t ON t.id = d.transaction_id
                    WHERE d.status = 'delivered'
                    """)
                let logged = Set(rows.output.split(separator: "\n").map(String.init))
                let missing = confirmed.list.withLock { $0 }.map { "\($0.recipient)@x.test <\($0.id)@crash.test>" }
                    .filter { !logged.contains($0) }
                #expect(missing.isEmpty, "round \(round): \(missing.count) confirmations without a row, e.g. \(missing.prefix(3))")
            }
            let confirmations = confirmed.list.withLock { $0 }
            #expect(confirmations.count > 0)
            let (lost, duplicated, damaged, _) = CrashTests.tally(confirmations, mailRoot: data + "/mail")
            #expect(lost == 0 && duplicated == 0 && damaged == 0, "lost \(lost), duplicated \(duplicated), damaged \(damaged)")
            let verify = try await runProcess(letterboxExecutable(), ["deliveries", "verify", "--database", server.url,
                                                                      "--data-dir", data, "--json"])
            let report = (try? JSONSerialization.jsonObject(with: Data(verify.output.utf8)) as? [String: Any]) ?? [:]
            #expect((report["missing"] as? [Any])?.isEmpty == true, "\(verify.output.prefix(2000))")
            print("postgres crash harness: kills=\(CrashTests.kills) confirmations=\(confirmations.count) lost=\(lost) duplicated=\(duplicated) damaged=\(damaged)")
        }
    }
}
