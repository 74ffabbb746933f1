import Foundation
import SMTPClient
import SMTPCore
import Testing
import TestSupport

/// The delivery log's PostgreSQL server failing under a running agent: down at start, stopped
/// and started again, a lock held by another session, a refused password. The recipients then
/// get 451 4.3.0 with nothing kept and nothing logged, the agent keeps serving, and it
/// recovers by itself once the server answers again.
@Suite("The PostgreSQL log's faults", .timeLimit(.minutes(3)))
struct PostgresFaultTests {
    /// Whether every reply is 451 4.3.0.
    static func deferred(_ replies: [Reply]) -> Bool {
        !replies.isEmpty && replies.allSatisfy { $0.code == 451 && "\($0.enhancedCode)" == "4.3.0" }
    }

    /// The files in every `new/` under `mailRoot`.
    static func delivered(under mailRoot: String) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: mailRoot)
        var files: [String] = []
        while let path = enumerator?.nextObject() as? String {
            if (path as NSString).deletingLastPathComponent.hasSuffix("/new") { files.append(path) }
        }
        return files
    }

    /// The number of rows in `deliveries`.
    static func rowCount(_ server: PostgresServer) async throws -> String {
        try await server.psql("SELECT count(*) FROM deliveries").output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("down at start: serve starts and says so, recipients get 451 4.3.0 with nothing kept; once the server is up, 250s and rows, the schema made then")
    func downAtStart() async throws {
        try await PostgresServer.with { server, directory in
            await server.stop()
            let agent = try await AgentProcess.start(in: directory + "/data", ["--database", server.url, "--log-level", "error"])
            defer { agent.stop() }
            let started = try await agent.waitForOutput("451 4.3.0 until it answers")
            #expect(started.contains("PostgreSQL postgres@\(server.directory)/.s.PGSQL.5432/letterbox"), "\(started)")
            let refused = try await agent.send(id: "early@pg.test", to: ["a@x.test", "b@x.test"])
            #expect(Self.deferred(refused), "\(refused)")
            #expect(Self.delivered(under: agent.mailRoot).isEmpty)
            let logged = try await agent.waitForOutput("delivery log failed")
            #expect(logged.contains("PostgreSQL postgres@\(server.directory)"), "\(logged)")

            try await server.restart()
            try await Task.sleep(for: .milliseconds(1100))   // past the failed attempt's second
            let accepted = try await agent.send(id: "later@pg.test", to: ["a@x.test", "b@x.test"])
            #expect(accepted.map(\.code) == [250, 250], "\(accepted)")
            #expect(Self.delivered(under: agent.mailRoot).count == 2)
            #expect(try await Self.rowCount(server) == "2")
        }
    }

    @Test("stopped mid-run and started again: 451s meanwhile with no copy and no row, then 250s on the agent that kept running; nothing lost, nothing twice")
    func stoppedAndRestarted() async throws {
        try await PostgresServer.with { server, directory in
            let agent = try await AgentProcess.start(in: directory + "/data", ["--database", server.url, "--log-level", "error"])
            defer { agent.stop() }
            #expect(try await agent.send(id: "before@pg.test", to: ["a@x.test"]).map(\.code) == [250])
            await server.stop()
            for attempt in 0..<3 {
                let replies = try await agent.send(id: "during\(attempt)@pg.test", to: ["a@x.test", "b@x.test"])
                #expect(Self.deferred(replies), "\(replies)")
            }
            #expect(Self.delivered(under: agent.mailRoot).count == 1)
            try await server.restart()
            try await Task.sleep(for: .milliseconds(1100))
            // The MTA's retries of the deferred messages, and a new one.
            for attempt in 0..<3 {
                let replies = try await agent.send(id: "during\(attempt)@pg.test", to: ["a@x.test", "b@x.test"])
                #expect(replies.map(\.code) == [250, 250], "\(replies)")
            }
            #expect(Self.delivered(under: agent.mailRoot).count == 7)
            #expect(try await Self.rowCount(server) == "7")
            let statuses = try await server.psql("SELECT DISTINCT status FROM deliveries")
            #expect(statuses.output.trimmingCharacters(in: .whitespacesAndNewlines) == "delivered", "\(statuses.output)")
        }
    }

    @Test("a lock held by another session past statement_timeout: 451 4.3.0, nothing kept; 250 once it is let go")
    func lockHeld() async throws {
        try await PostgresServer.with { server, directory in
            let url = server.url(extra: "options=-c%20statement_timeout%3D1s")
            let agent = try await AgentProcess.start(in: directory + "/data", ["--database", url, "--log-level", "error"])
            defer { agent.stop() }
            #expect(try await agent.send(id: "first@pg.test", to: ["a@x.test"]).map(\.code) == [250])
            let holder = try await server.lock("deliveries", seconds: 60)
            let started = ContinuousClock.now
            let replies = try await agent.send(id: "locked@pg.test", to: ["a@x.test", "b@x.test"])
            #expect(Self.deferred(replies), "\(replies)")
            #expect(started.duration(to: .now) < .seconds(30), "waited for the lock instead of statement_timeout")
            let logged = try await agent.waitForOutput("statement timeout")
            #expect(logged.contains("SQLSTATE 57014"), "\(logged)")
            #expect(Self.delivered(under: agent.mailRoot).count == 1)
            try await server.unlock("deliveries", holder: holder)
            let retried = try await agent.send(id: "locked@pg.test", to: ["a@x.test", "b@x.test"])
            #expect(retried.map(\.code) == [250, 250], "\(retried)")
            #expect(try await Self.rowCount(server) == "3")
        }
    }

    @Test("a refused password: serve starts and names the server and the cause, 451 4.3.0 until the password is right")
    func refusedPassword() async throws {
        try await PostgresServer.with { server, directory in
            try await server.requirePassword(user: "letterbox", password: "right")
            let wrong = server.url(user: "letterbox", password: "wrong")
            let agent = try await AgentProcess.start(in: directory + "/data", ["--database", wrong, "--log-level", "error"])
            defer { agent.stop() }
            let started = try await agent.waitForOutput("until it answers")
            #expect(started.contains("password authentication failed for user \"letterbox\""), "\(started)")
            #expect(!started.contains("wrong"), "the password is shown: \(started)")
            let replies = try await agent.send(id: "pw@pg.test", to: ["a@x.test"])
            #expect(Self.deferred(replies), "\(replies)")
            #expect(Self.delivered(under: agent.mailRoot).isEmpty)
            _ = await agent.stopAndWait()

            let right = try await AgentProcess.start(in: directory + "/data",
                                                     ["--database", server.url(user: "letterbox", password: "right")])
            defer { right.stop() }
            #expect(try await right.send(id: "pw@pg.test", to: ["a@x.test"]).map(\.code) == [250])
        }
    }
}
