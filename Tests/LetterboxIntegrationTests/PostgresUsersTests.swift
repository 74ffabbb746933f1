import Foundation
import SMTPClient
import SMTPCore
import Testing
import TestSupport

/// The local users in a PostgreSQL table (`--users postgresql://… --users-query …`): who exists,
/// their quotas and mailboxes, a lookup that cannot answer, a query that cannot run.
@Suite("Users from PostgreSQL", .timeLimit(.minutes(3)))
struct PostgresUsersTests {
    static let table = """
        CREATE TABLE mailbox (address TEXT PRIMARY KEY, quota_bytes BIGINT, maildir TEXT, active BOOLEAN NOT NULL DEFAULT true);
        INSERT INTO mailbox VALUES ('alice@x.test', NULL, NULL, true), ('bob@x.test', 1000, 'shared/bob', true),
            ('carol@x.test', NULL, NULL, false), ('dave@x.test', NULL, '../../etc', true)
        """
    static let query = "SELECT quota_bytes AS quota, maildir AS mailbox FROM mailbox WHERE address = $1 AND active"

    /// One RCPT per address after MAIL FROM with `SIZE=size`: each reply.
    static func rcpt(_ socket: String, _ addresses: [String], size: Int = 100) async throws -> [Reply] {
        let client = try await Client.connect(to: .unix(path: socket), configuration: Client.Configuration(lmtp: true))
        var options = MailOptions()
        options.size = size
        try await client.mail(from: "s@y.test", options: options)
        var replies: [Reply] = []
        for address in addresses {
            do {
                try await client.rcpt(to: address)
                replies.append(Reply(code: 250, enhancedCode: EnhancedCode(2, 1, 5), lines: ["OK"]))
            } catch let error as SMTPError {
                replies.append(Reply(code: error.code, enhancedCode: error.enhancedCode, lines: [error.message]))
            }
        }
        try await client.quit()
        return replies
    }

    @Test("RCPT asks the table: a row is a user (its quota, its mailbox under the mail root), no row or an inactive one is 550 5.1.1, +detail looks up the user; a mailbox out of the mail root is deferred")
    func lookups() async throws {
        try await PostgresServer.with { server, directory in
            #expect(try await server.psql(Self.table).status == 0)
            let agent = try await AgentProcess.start(in: directory + "/data", [
                "--users", server.url, "--users-query", Self.query, "--recipient-delimiter", "+",
            ])
            defer { agent.stop() }
            let started = try await agent.waitForOutput("users from PostgreSQL")
            #expect(started.contains("users from PostgreSQL postgres@\(server.directory)"), "\(started)")
            let replies = try await Self.rcpt(agent.socket, ["alice@x.test", "Alice+news@X.test", "nobody@x.test", "carol@x.test",
                                                             "dave@x.test"])
            #expect(replies.map(\.code) == [250, 250, 550, 550, 451], "\(replies)")
            #expect("\(replies[2].enhancedCode)" == "5.1.1" && "\(replies[4].enhancedCode)" == "4.3.0", "\(replies)")
            // bob's quota (1,000 octets) refuses a 2,000-octet message at RCPT; his mail goes to his mailbox.
            let bob = try await Self.rcpt(agent.socket, ["bob@x.test"], size: 2000)
            #expect(bob.map(\.code) == [552], "\(bob)")
            let codes = try await agent.rcptCodes(["bob@x.test"])
            #expect(codes == [250])
            let client = try await Client.connect(to: .unix(path: agent.socket), configuration: Client.Configuration(lmtp: true))
            let (writer, _) = try await client.beginMessage(from: .mailbox(Address("s@y.test")!),
                                                            to: [Address("bob@x.test")!, Address("alice@x.test")!])
            try await writer.write("Subject: t\r\n\r\nhi\r\n")
            #expect(try await writer.finishWithStatuses().map(\.reply.code) == [250, 250])
            try await client.quit()
            #expect(try FileManager.default.contentsOfDirectory(atPath: agent.mailRoot + "/shared/bob/new").count == 1)
            #expect(try FileManager.default.contentsOfDirectory(atPath: agent.mailRoot + "/x.test/alice/new").count == 1)
        }
    }

    @Test("the server down or a lookup past statement_timeout: 451 4.3.0 for that recipient, never 550; answers again once it is back; deliver exits 75")
    func unavailable() async throws {
        try await PostgresServer.with { server, directory in
            #expect(try await server.psql(Self.table).status == 0)
            let url = server.url(extra: "options=-c%20statement_timeout%3D1s")
            let agent = try await AgentProcess.start(in: directory + "/data", [
                "--users", url, "--users-query", Self.query, "--users-cache", "0s", "--log-level", "error",
            ])
            defer { agent.stop() }
            #expect(try await Self.rcpt(agent.socket, ["alice@x.test", "nobody@x.test"]).map(\.code) == [250, 550])

            let holder = try await server.lock("mailbox", seconds: 60)
            let slow = try await Self.rcpt(agent.socket, ["alice@x.test", "nobody@x.test"])
            #expect(slow.map(\.code) == [451, 451] && slow.allSatisfy { "\($0.enhancedCode)" == "4.3.0" }, "\(slow)")
            try await server.unlock("mailbox", holder: holder)
            #expect(try await Self.rcpt(agent.socket, ["alice@x.test"]).map(\.code) == [250])

            await server.stop()
            let down = try await Self.rcpt(agent.socket, ["alice@x.test", "nobody@x.test"])
            #expect(down.map(\.code) == [451, 451], "\(down)")
            let logged = try await agent.waitForOutput("users lookup failed")
            #expect(logged.contains("PostgreSQL postgres@\(server.directory)"), "\(logged)")
            let deliver = try await runProcess(letterboxExecutable(), [
                "deliver", "--data-dir", directory + "/data", "--users", url, "--users-query", Self.query, "--recipient", "alice@x.test",
            ], input: "Subject: t\n\nhi\n")
            #expect(deliver.status == 75, "\(deliver.output)")
            try await server.restart()
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await Self.rcpt(agent.socket, ["alice@x.test", "nobody@x.test"]).map(\.code) == [250, 550])
        }
    }

    @Test("a query PostgreSQL cannot run, or no query: serve refuses to start (exit 78) and says why")
    func badQuery() async throws {
        try await PostgresServer.with { server, directory in
            #expect(try await server.psql(Self.table).status == 0)
            let typo = try await runProcess(letterboxExecutable(), [
                "serve", "--data-dir", directory + "/data", "--users", server.url,
                "--users-query", "SELECT quota FROM mailboxes WHERE address = $1",
            ])
            #expect(typo.status == 78, "\(typo.output)")
            #expect(typo.output.contains("relation \"mailboxes\" does not exist"), "\(typo.output)")
            let parameter = try await runProcess(letterboxExecutable(), [
                "serve", "--data-dir", directory + "/data", "--users", server.url,
                "--users-query", "SELECT 1 FROM mailbox WHERE address = $4",
            ])
            #expect(parameter.status == 78 && parameter.output.contains("$4"), "\(parameter.output)")
            let none = try await runProcess(letterboxExecutable(), ["serve", "--data-dir", directory + "/data", "--users", server.url])
            #expect(none.status == 78 && none.output.contains("needs --users-query"), "\(none.output)")
        }
    }
}
