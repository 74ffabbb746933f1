import Foundation
import SMTPClient
import SMTPCore
import Synchronization
import Testing
import TestSupport

/// kill -9 at random moments while eight LMTP clients deliver three-recipient messages and an
/// operator works beside the agent (the `sqlite3` tool read-write, `deliveries stats` and
/// `deliveries verify` in a loop, `letterbox deliver` runs from a pipe transport in between),
/// then prove, after every kill, that every 250 (and every exit 0 of deliver) has its delivered
/// row, that the database is sound and verify finds nothing missing; and at the end that each is
/// backed by exactly one intact file and nothing partial is in new/. LETTERBOX_CRASH_KILLS sets
/// the number of kills (5 by default, as CI runs it; docs/reliability.md records longer runs).
@Suite("Crashes: kill -9 during delivery", .serialized, .timeLimit(.minutes(20)))
struct CrashTests {
    static var kills: Int { Int(ProcessInfo.processInfo.environment["LETTERBOX_CRASH_KILLS"] ?? "") ?? 5 }
    static let users = ["ann", "bob", "cat", "dan", "eve", "fay"]

    /// The message of transaction `id`: its size varies from one line to about 10 KiB.
    static func message(_ id: String) -> String {
        let lines = 1 + abs(id.hashValue % 200)
        return "Message-ID: <\(id)@crash.test>\r\nSubject: crash test\r\n\r\n"
            + String(repeating: "\(id) 0123456789abcdefghijklmnopqrstuvwxyz\r\n", count: lines)
    }

    struct Confirmed: Sendable {
        var id: String
        var recipient: String
    }

    /// The 250s received, from every client task.
    final class Confirmations: Sendable {
        let list = Mutex<[Confirmed]>([])
    }

    /// Eight clients deliver through `agent` until it is killed with SIGKILL after `delay` —
    /// and, with `atLeast`, not before that many more 250s have come (for up to 20 s: a loaded
    /// machine may take longer than the delay to deliver anything); returns once it is gone,
    /// with the number of transactions started.
    static func deliverUntilKilled(_ agent: AgentProcess, after delay: Duration, round: Int,
                                   confirmed: Confirmations, atLeast: Int = 0) async throws -> Int {
        let socket = agent.socket
        let before = confirmed.list.withLock { $0.count }
        let started = await withTaskGroup(of: Int.self) { group in
            for client in 0..<8 {
                group.addTask { await Self.client(socket: socket, prefix: "r\(round)c\(client)", confirmed: confirmed) }
            }
            group.addTask {
                try? await Task.sleep(for: delay)
                for _ in 0..<2000 where confirmed.list.withLock({ $0.count }) < before + atLeast {
                    try? await Task.sleep(for: .milliseconds(10))
                }
                agent.process.signal(SIGKILL)
                return 0
            }
            return await group.reduce(0, +)
        }
        for _ in 0..<400 where agent.process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!agent.process.isRunning)
        return started
    }

    /// Sends transactions until the connection dies; returns how many were started.
    static func client(socket: String, prefix: String, confirmed: Confirmations) async -> Int {
        var client: Client?
        for _ in 0..<200 where client == nil {
            client = try? await Client.connect(to: .unix(path: socket), configuration: Client.Configuration(lmtp: true))
            if client == nil { try? await Task.sleep(for: .milliseconds(10)) }
        }
        guard let client else { return 0 }
        var started = 0
        var generator = SystemRandomNumberGenerator()
        while true {
            started += 1
            let id = "\(prefix)-\(started)"
            let recipients = Array(users.shuffled(using: &generator).prefix(3)).map { Address($0 + "@x.test")! }
            do {
                let (writer, _) = try await client.beginMessage(from: .mailbox(Address("sender@x.test")!), to: recipients)
                try await writer.write(message(id))
                let statuses = try await writer.finishWithStatuses()
                let delivered = statuses.filter { $0.reply.code == 250 }.map { Confirmed(id: id, recipient: $0.recipient.localPart) }
                confirmed.list.withLock { $0 += delivered }
            } catch {
                return started
            }
        }
    }

    /// What an operator does beside the agent until it dies: `sqlite3` on the log read-write
    /// (as people use it: it writes on open, and the last connection to close checkpoints),
    /// `deliveries stats` and `deliveries verify`, and a `letterbox deliver` of one message to
    /// two users between them (its exit 0 is a confirmation like a 250). Returns what it ran.
    static func operatorBeside(_ agent: AgentProcess, data: String, round: Int, confirmed: Confirmations) async throws -> Int {
        let sqlite = try External.require("sqlite3")
        var runs = 0
        while agent.process.isRunning && runs < 200 {
            let id = "r\(round)d\(runs)"
            let recipients = Array(users.shuffled().prefix(2))
            let piped = try? await runProcess(letterboxExecutable(), [
                "deliver", "--data-dir", data, "--hostname", "mx.test", "--sender", "sender@x.test",
                "--recipient", recipients[0] + "@x.test", "--recipient", recipients[1] + "@x.test",
            ], input: message(id))
            if piped?.status == 0 {
                confirmed.list.withLock { $0 += recipients.map { Confirmed(id: id, recipient: $0) } }
            } else if let piped, piped.status != 75 {
                Issue.record("deliver exited \(piped.status), not 0 or 75: \(piped.output)")
            }
            _ = try? await runProcess(sqlite, [data + "/deliveries.sqlite", "SELECT COUNT(*) FROM deliveries;"])
            _ = try? await runProcess(letterboxExecutable(), ["deliveries", "stats", "--data-dir", data])
            _ = try? await runProcess(letterboxExecutable(), ["deliveries", "verify", "--data-dir", data, "--json"])
            runs += 1
        }
        return runs
    }

    /// The confirmations (250s and exit-0 delivers) that have no delivered row, read with
    /// `sqlite3 -readonly`; and the database's integrity check.
    static func unlogged(_ confirmations: [Confirmed], data: String) async throws -> (missing: [String], integrity: String) {
        let sqlite = try External.require("sqlite3")
        let read = try await runProcess(sqlite, ["-readonly", data + "/deliveries.sqlite", """
            PRAGMA integrity_check;
            SELECT d.recipient || ' ' || t.message_id FROM deliveries d JOIN transactions t ON t.id = d.transaction_id
                WHERE d.status = 'delivered';
            """])
        let lines = read.output.split(separator: "\n").map(String.init)
        let rows = Set(lines.dropFirst())
        let missing = confirmations.map { "\($0.recipient)@x.test <\($0.id)@crash.test>" }.filter { !rows.contains($0) }
        return (missing, lines.first ?? read.output)
    }

    /// Against the files under `mailRoot`: the 250s without a file, those with more than one,
    /// and the files (of any message) that do not end with their whole message (stored with
    /// LF); with the number of files.
    static func tally(_ confirmations: [Confirmed], mailRoot: String) -> (lost: Int, duplicated: Int, damaged: Int, files: Int) {
        let files = files(mailRoot)
        var lost = 0, duplicated = 0, damaged = 0, count = 0
        for confirmation in confirmations {
            let copies = files[confirmation.recipient]?[confirmation.id] ?? []
            if copies.isEmpty { lost += 1 }
            if copies.count > 1 { duplicated += 1 }
        }
        for (_, byID) in files {
            for (id, copies) in byID {
                let body = message(id).replacingOccurrences(of: "\r\n", with: "\n")
                count += copies.count
                damaged += copies.filter { !$0.hasSuffix(body) }.count
            }
        }
        return (lost, duplicated, damaged, count)
    }

    /// Every file in `new/` and `cur/` of each user's Maildir: Message-ID → contents.
    static func files(_ mailRoot: String) -> [String: [String: [String]]] {
        var result: [String: [String: [String]]] = [:]
        for user in users {
            for sub in ["new", "cur"] {
                let directory = "\(mailRoot)/x.test/\(user)/\(sub)"
                for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                    let text = (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? ""
                    let id = text.range(of: "Message-ID: <").map { start in
                        String(text[start.upperBound...].prefix { $0 != "@" })
                    } ?? "?"
                    result[user, default: [:]][id, default: []].append(text)
                }
            }
        }
        return result
    }

    /// Where the agent's data goes: the test's temporary directory (whatever file system that
    /// is on; the portable sync order on this machine's journal-less root), or a scratch ext4
    /// with a journal, where the spool is written back before its links and synced after them.
    enum Place: String, CaseIterable, CustomTestStringConvertible {
        case temporaryDirectory = "temporary directory"
        case journaledExt4 = "journaled ext4"

        var testDescription: String { rawValue }

        func run(_ body: (String) async throws -> Void) async throws {
            switch self {
            case .temporaryDirectory: try await withTemporaryDirectory(body)
            case .journaledExt4: try await ScratchFileSystem.with(megabytes: 512, body)
            }
        }
    }

    @Test("every 250 survives kill -9: one intact file and a delivered row; nothing partial in new/; the database is sound",
          arguments: Place.allCases)
    func killNine(place: Place) async throws {
        try await place.run { directory in
            let data = directory + "/data"
            let confirmed = Confirmations()
            var transactions = 0, operatorRuns = 0
            var generator = SystemRandomNumberGenerator()
            for round in 0..<Self.kills {
                let agent = try await AgentProcess.start(in: data)
                let delay = Int.random(in: 50...500, using: &generator)
                async let operatorWork = Self.operatorBeside(agent, data: data, round: round, confirmed: confirmed)
                transactions += try await Self.deliverUntilKilled(agent, after: .milliseconds(delay), round: round,
                                                                  confirmed: confirmed)
                operatorRuns += try await operatorWork
                // After every kill: every confirmation has its row, the database is sound, and
                // verify finds no delivered row without its file.
                let (missing, integrity) = try await Self.unlogged(confirmed.list.withLock { $0 }, data: data)
                #expect(missing.isEmpty, "round \(round): \(missing.count) confirmations without a row, e.g. \(missing.prefix(3))")
                #expect(integrity == "ok", "round \(round): \(integrity)")
                let verified = try await runProcess(letterboxExecutable(), ["deliveries", "verify", "--data-dir", data, "--json"])
                let found = (try? JSONSerialization.jsonObject(with: Data(verified.output.utf8)) as? [String: Any]) ?? [:]
                #expect((found["missing"] as? [Any])?.isEmpty == true, "round \(round): \(verified.output.prefix(2000))")
            }

            // A leftover older than 36 h and a fresh one, then the restart that cleans up.
            let tmp = data + "/mail/x.test/ann/tmp"
            try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
            try "old".write(toFile: tmp + "/old-leftover", atomically: false, encoding: .utf8)
            try "new".write(toFile: tmp + "/fresh-leftover", atomically: false, encoding: .utf8)
            var old = [timeval(tv_sec: time(nil) - 40 * 3600, tv_usec: 0), timeval(tv_sec: time(nil) - 40 * 3600, tv_usec: 0)]
            #expect(utimes(tmp + "/old-leftover", &old) == 0)
            let agent = try await AgentProcess.start(in: data, ["--log-level", "info"])
            let log = try await agent.waitForOutput("tmp/ checked")
            #expect(!FileManager.default.fileExists(atPath: tmp + "/old-leftover"), "the tmp/ file older than 36 h was not removed")
            #expect(FileManager.default.fileExists(atPath: tmp + "/fresh-leftover"))
            // Reported: the removed file by name, the younger ones (killed deliveries' and ours) counted.
            let leftovers = Self.users.flatMap { user in
                (try? FileManager.default.contentsOfDirectory(atPath: "\(data)/mail/x.test/\(user)/tmp")) ?? []
            }
            #expect(leftovers.contains("fresh-leftover"))
            #expect(log.contains("old-leftover") && log.contains("younger than 36 h") && log.contains("count=\(leftovers.count)"), "\(log)\nin tmp/ after the check: \(leftovers.sorted())")
            _ = await agent.stopAndWait()
            try FileManager.default.removeItem(atPath: tmp + "/fresh-leftover")

            // Every 250: exactly one file, complete.
            let confirmations = confirmed.list.withLock { $0 }
            let (lost, duplicated, damaged, fileCount) = Self.tally(confirmations, mailRoot: data + "/mail")
            #expect(lost == 0 && duplicated == 0 && damaged == 0)

            // Every 250 has its delivered row, and verify finds the log and the Maildirs in agreement.
            let listed = try await runProcess(letterboxExecutable(), ["deliveries", "list", "--data-dir", data, "--json",
                                                                      "--status", "delivered", "--limit", "100000000"])
            let rows = (try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]]) ?? []
            let logged = Set(rows.compactMap { row -> String? in
                guard let recipient = row["recipient"] as? String, let id = row["message_id"] as? String else { return nil }
                return recipient + " " + id
            })
            let unlogged250s = confirmations.filter { !logged.contains("\($0.recipient)@x.test <\($0.id)@crash.test>") }.count
            #expect(unlogged250s == 0)
            let verify = try await runProcess(letterboxExecutable(), ["deliveries", "verify", "--data-dir", data, "--json"])
            #expect(verify.status == 0, "\(verify.output)")
            let report = (try JSONSerialization.jsonObject(with: Data(verify.output.utf8)) as? [String: Any]) ?? [:]
            #expect(report["database"] as? [String] == ["ok"])
            #expect(report["mismatches"] as? Int == 0)
            let unloggedFiles = (report["unlogged"] as? [Any])?.count ?? -1
            print("""
                crash harness: kills=\(Self.kills) transactions=\(transactions) operator-rounds=\(operatorRuns) \
                confirmations=\(confirmations.count) \
                files=\(fileCount) rows=\(rows.count) lost=\(lost) duplicated=\(duplicated) damaged=\(damaged) \
                250s-without-row=\(unlogged250s) unlogged-files=\(unloggedFiles) \
                mismatches=\(report["mismatches"] as? Int ?? -1)
                """)
        }
    }
}
