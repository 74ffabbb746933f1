import DeliveryLog
import Foundation
import GRDB
import Synchronization
import Testing
import TestSupport

@Suite("Delivery log on a real SQLite file", .timeLimit(.minutes(1)))
struct DeliveryLogTests {
    static func transaction(_ index: Int, recipients: [String], status: DeliveryStatus = .delivered, time: Date = Date(),
                            messageID: String? = nil) -> TransactionRecord {
        TransactionRecord(sessionID: "S\(index)", time: time, clientAddress: "127.0.0.1", helo: "mx.test", sender: "a\(index)@b.test",
                          size: 100 + index, messageID: messageID ?? "<m\(index)@b.test>", bodySHA256: "hash\(index)",
                          recipients: recipients.map {
                              RecipientRecord(recipient: $0, mailbox: "/mail/\($0)", file: "f\(index)", status: status,
                                              code: status == .delivered ? 250 : 550,
                                              enhancedCode: status == .delivered ? "2.0.0" : "5.1.1", text: "text \(index)")
                          })
    }

    @Test("a durable log syncs every commit (synchronous = FULL on the writing connection); a non-durable one does not")
    func durableCommits() async throws {
        try await withTemporaryDirectory { directory in
            let durable = try DeliveryLog(path: directory + "/durable.sqlite")
            #expect(try durable.syncsEveryCommit)
            _ = try durable.commit(Self.transaction(1, recipients: ["r@x.test"]))
            #expect(try durable.syncsEveryCommit)
            let fast = try DeliveryLog(path: directory + "/fast.sqlite", durable: false)
            #expect(try !fast.syncsEveryCommit)
        }
    }

    @Test("concurrent records all commit (group commit), and sqlite3 sees a sound WAL database")
    func concurrentRecords() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/deliveries.sqlite"
            let log = try DeliveryLog(path: path)
            let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
                for index in 0..<200 {
                    group.addTask { try await log.record(Self.transaction(index, recipients: ["r\(index)@x.test", "s\(index)@x.test"])) }
                }
                return try await group.reduce(into: Set<Int64>()) { $0.insert($1) }
            }
            #expect(ids.count == 200)
            let sqlite = try External.require("sqlite3")
            let check = try await runProcess(sqlite, [path, "PRAGMA integrity_check; PRAGMA journal_mode; SELECT COUNT(*) FROM deliveries; SELECT COUNT(DISTINCT transaction_id) FROM deliveries;"])
            #expect(check.output == "ok\nwal\n400\n200\n")
        }
    }

    @Test("list filters, show, and stats")
    func queries() async throws {
        try await withTemporaryDirectory { directory in
            let log = try DeliveryLog(path: directory + "/d.sqlite")
            let old = Date(timeIntervalSinceNow: -3 * 86400)
            _ = try await log.record(Self.transaction(1, recipients: ["alice@x.test"], time: old))
            _ = try await log.record(Self.transaction(2, recipients: ["alice@x.test", "bob@x.test"]))
            _ = try await log.record(Self.transaction(3, recipients: ["nobody@x.test"], status: .failed))
            #expect(try await log.reader.deliveries(matching: DeliveryFilter()).count == 4)
            let alice = try await log.reader.deliveries(matching: DeliveryFilter(recipient: "ALICE@x.test"))
            #expect(alice.map(\.sessionID) == ["S2", "S1"])   // newest first
            #expect(try await log.reader.deliveries(matching: DeliveryFilter(status: .failed)).map(\.recipient) == ["nobody@x.test"])
            #expect(try await log.reader.deliveries(matching: DeliveryFilter(since: Date(timeIntervalSinceNow: -86400))).count == 3)
            #expect(try await log.reader.deliveries(matching: DeliveryFilter(until: Date(timeIntervalSinceNow: -86400))).count == 1)
            #expect(try await log.reader.deliveries(matching: DeliveryFilter(sender: "a2@b.test")).count == 2)
            #expect(try await log.reader.deliveries(matching: DeliveryFilter(messageID: "<m3@b.test>")).count == 1)
            #expect(try await log.reader.deliveries(matching: DeliveryFilter(limit: 2)).count == 2)
            let first = try #require(alice.last)
            let shown = try #require(try await log.reader.delivery(id: first.id))
            #expect(shown == first)
            #expect(shown.code == 250 && shown.enhancedCode == "2.0.0" && shown.size == 101 && shown.mailbox == "/mail/alice@x.test")
            #expect(try await log.reader.delivery(id: 9999) == nil)
            let stats = try await log.reader.stats()
            #expect(stats.transactions == 3 && stats.deliveries == 4 && stats.delivered == 3 && stats.failed == 1)
            #expect(stats.bytes == 101 + 102)
            #expect(try await log.reader.stats(since: Date(timeIntervalSinceNow: -86400)).deliveries == 3)
        }
    }

    @Test("duplicates: same recipient, Message-ID and body hash within the window")
    func duplicates() async throws {
        try await withTemporaryDirectory { directory in
            let log = try DeliveryLog(path: directory + "/d.sqlite")
            _ = try await log.record(Self.transaction(1, recipients: ["alice@x.test"], messageID: "<same@x>"))
            let hour = Date(timeIntervalSinceNow: -3600)
            let anyCopy: (String, String) -> Bool = { _, _ in true }
            #expect(try log.alreadyDelivered(recipient: "alice@x.test", messageID: "<same@x>", bodySHA256: "hash1", since: hour,
                                             isPresent: anyCopy))
            #expect(try !log.alreadyDelivered(recipient: "bob@x.test", messageID: "<same@x>", bodySHA256: "hash1", since: hour,
                                              isPresent: anyCopy))
            #expect(try !log.alreadyDelivered(recipient: "alice@x.test", messageID: "<same@x>", bodySHA256: "other", since: hour,
                                              isPresent: anyCopy))
            #expect(try !log.alreadyDelivered(recipient: "alice@x.test", messageID: "<same@x>", bodySHA256: "hash1",
                                              since: Date(timeIntervalSinceNow: 60), isPresent: anyCopy))
            // The row names its copy; without that copy in the mailbox the message is not a duplicate.
            var asked: [(String, String)] = []
            #expect(try !log.alreadyDelivered(recipient: "alice@x.test", messageID: "<same@x>", bodySHA256: "hash1", since: hour,
                                              isPresent: { asked.append(($0, $1)); return false }))
            #expect(asked.count == 1 && asked.first?.1 == Self.transaction(1, recipients: ["alice@x.test"]).recipients[0].file)

            // One read answers for every recipient of a message: each has its own copies, a
            // failed recipient has none, and another message's recipients are not among them.
            _ = try await log.record(Self.transaction(2, recipients: ["carol@x.test", "dave@x.test"], messageID: "<two@x>"))
            var failed = Self.transaction(3, recipients: ["erin@x.test"], status: .failed, messageID: "<two@x>")
            failed.bodySHA256 = "hash2"
            _ = try await log.record(failed)
            let copies = try log.deliveredCopies(messageID: "<two@x>", bodySHA256: "hash2", since: hour)
            var named: [String] = []
            #expect(copies.hasCopy(for: "carol@x.test", isPresent: { mailbox, _ in named.append(mailbox); return true }))
            #expect(copies.hasCopy(for: "dave@x.test", isPresent: anyCopy))
            #expect(!copies.hasCopy(for: "erin@x.test", isPresent: anyCopy))
            #expect(!copies.hasCopy(for: "alice@x.test", isPresent: anyCopy))
            #expect(named == ["/mail/carol@x.test"])
        }
    }

    @Test("a log made by an older letterbox (schema v1) is migrated: rows and ids kept, no AUTOINCREMENT, no IN list in the CHECK")
    func migratesVersionOne() async throws {
        let sqlite = try External.require("sqlite3")
        try await withTemporaryDirectory { directory in
            let path = directory + "/old.sqlite"
            // The file as the first schema left it (GRDB records applied migrations by name).
            let made = try await runProcess(sqlite, [path, """
                PRAGMA journal_mode = WAL;
                CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                INSERT INTO grdb_migrations VALUES ('v1: transactions and deliveries');
                CREATE TABLE transactions (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, time TEXT NOT NULL,
                    client_address TEXT, helo TEXT, sender TEXT NOT NULL, size INTEGER NOT NULL, message_id TEXT, body_sha256 TEXT);
                CREATE TABLE deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT,
                    transaction_id INTEGER NOT NULL REFERENCES transactions(id) ON DELETE CASCADE, time TEXT NOT NULL,
                    recipient TEXT NOT NULL, original_recipient TEXT, mailbox TEXT, folder TEXT, file TEXT,
                    status TEXT NOT NULL CHECK (status IN ('delivered', 'failed', 'deferred', 'duplicate')),
                    code INTEGER NOT NULL, enhanced_code TEXT NOT NULL, text TEXT NOT NULL, duration REAL NOT NULL);
                CREATE INDEX deliveries_transaction ON deliveries(transaction_id);
                CREATE INDEX deliveries_recipient_time ON deliveries(recipient, time);
                CREATE INDEX deliveries_time ON deliveries(time);
                CREATE INDEX transactions_message_id ON transactions(message_id);
                INSERT INTO transactions VALUES (7, 'S7', '2026-11-01T10:00:00.000000Z', 'local', 'mx.test', 'a@b.test', 10, '<old@b.test>', 'h');
                INSERT INTO deliveries VALUES (40, 7, '2026-11-01T10:00:00.000000Z', 'bob@x.test', NULL, '/mail/bob', NULL, 'f1',
                    'delivered', 250, '2.0.0', 'ok', 0.01);
                INSERT INTO deliveries VALUES (41, 7, '2026-11-01T10:00:00.000000Z', 'eve@x.test', NULL, NULL, NULL, NULL,
                    'failed', 550, '5.1.1', 'no such user', 0.0);
                """])
            #expect(made.status == 0, "\(made.output)")
            let log = try DeliveryLog(path: path)
            let before = try await log.reader.deliveries(matching: DeliveryFilter())
            #expect(before.map(\.id).sorted() == [40, 41])
            #expect(before.first { $0.id == 41 }?.status == .failed && before.first { $0.id == 40 }?.file == "f1")
            let id = try await Self.commitOffPool(log, Self.transaction(1, recipients: ["carol@x.test"]))
            #expect(id == 8)
            let after = try await log.reader.deliveries(matching: DeliveryFilter())
            #expect(after.first { $0.recipient == "carol@x.test" }?.id == 42)
            let schema = try await runProcess(sqlite, [path, "SELECT group_concat(sql, ' ') FROM sqlite_master WHERE type = 'table'; PRAGMA integrity_check; PRAGMA foreign_key_check;"])
            #expect(!schema.output.contains("AUTOINCREMENT") && !schema.output.contains(" IN ("), "\(schema.output)")
            #expect(schema.output.contains("CHECK (status = 'delivered' OR"), "\(schema.output)")
            #expect(schema.output.hasSuffix("ok\n"), "\(schema.output)")
            // The constraint still holds.
            let refused = try await runProcess(sqlite, [path, "INSERT INTO deliveries (transaction_id, time, recipient, status, code, enhanced_code, text, duration) VALUES (7, 't', 'x', 'lost', 0, '', '', 0);"])
            #expect(refused.status != 0 && refused.output.contains("CHECK constraint failed"), "\(refused.output)")
        }
    }

    @Test("a commit waits for announced records (one transaction for both), not for a withdrawn one, and not past its window")
    func gathering() async throws {
        try await withTemporaryDirectory { directory in
            // A window of 30 s where a commit must end because a record came (bound: 20 s, room
            // for a loaded machine to run a thread seconds late); 1 s where it must end with
            // its window (only that lower bound is exact).
            let log = try DeliveryLog(path: directory + "/d.sqlite", gatherWindow: 30)
            // Two announced: the first record's commit waits until the second is submitted.
            log.announce()
            log.announce()
            let started = Date()
            let first = log.submit(Self.transaction(1, recipients: ["a@x.test"]), announced: true)
            // A thread of its own: Dispatch's global queue runs as many blocks at once as there
            // are cores, and while other tests block those, a block asked for in 0.3 s ran
            // almost 3 s later in one full run.
            Thread {
                Thread.sleep(forTimeInterval: 0.3)
                _ = log.submit(Self.transaction(2, recipients: ["b@x.test"]), announced: true)
            }.start()
            let (firstID, firstDone) = try await first.timedValue()
            let waited = firstDone.timeIntervalSince(started)
            #expect(waited >= 0.3, "committed after \(waited) s, before the announced record came")
            #expect(waited < 20, "waited \(waited) s: the whole window, though the announced record came")
            // Both went into one commit: the second is there as soon as the first is answered.
            let rows = try await log.reader.deliveries(matching: DeliveryFilter())
            #expect(Set(rows.map(\.sessionID)) == ["S1", "S2"], "\(rows.map(\.sessionID))")
            #expect(firstID > 0)

            // A withdrawn announcement is not waited for.
            log.announce()
            log.announce()
            let third = log.submit(Self.transaction(3, recipients: ["c@x.test"]), announced: true)
            log.withdraw()
            let beforeThird = Date()
            let (_, thirdDone) = try await third.timedValue()
            #expect(thirdDone.timeIntervalSince(beforeThird) < 20)
            try log.close()

            // An announcement never fulfilled holds a commit for the window at most.
            let short = try DeliveryLog(path: directory + "/d.sqlite", gatherWindow: 1)
            short.announce()
            short.announce()
            let lonely = Date()
            let (_, lonelyDone) = try await short.submit(Self.transaction(4, recipients: ["d@x.test"]), announced: true).timedValue()
            let held = lonelyDone.timeIntervalSince(lonely)
            #expect(held >= 0.95 && held < 30, "held \(held) s")
            short.withdraw()
            try short.close()
        }
    }

    @Test("staged records are inserted but not visible until a commit is asked for; the commit waits for announced requests and takes every staged record; one never asked for is committed all the same")
    func staging() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/d.sqlite"
            let log = try DeliveryLog(path: path, gatherWindow: 10)
            // A group of two: one request announced, as the agent's link gathering does.
            log.announce()
            let first = log.stage(Self.transaction(1, recipients: ["a@x.test"]))
            let second = log.stage(Self.transaction(2, recipients: ["b@x.test", "c@x.test"]))
            let asked = Date()
            first.requestCommit(announced: false)
            // The writer waits (up to its 10 s window) for the announced request: nothing is
            // committed meanwhile. Looked at, and the request made, from a thread of its own:
            // this task may resume seconds late when other tests hold the concurrency pool.
            let seenEarly = Mutex<Int?>(nil)
            Thread {
                Thread.sleep(forTimeInterval: 0.3)
                var readOnly = Configuration()
                readOnly.readonly = true
                let count = try? DatabaseQueue(path: path, configuration: readOnly).read {
                    try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM deliveries")
                }
                seenEarly.withLock { $0 = count ?? -1 }
                Thread.sleep(forTimeInterval: 0.2)
                second.requestCommit(announced: true)
            }.start()
            let (firstID, firstDone) = try await first.timedValue()
            let waited = firstDone.timeIntervalSince(asked)
            #expect(seenEarly.withLock { $0 } == 0, "rows visible before the announced request came")
            #expect(waited >= 0.45 && waited < 9.5, "committed after \(waited) s")
            // One commit for both: the second is there as soon as the first is answered.
            #expect(try await log.reader.deliveries(matching: DeliveryFilter()).count == 3)
            let (secondID, _) = try await second.timedValue()
            #expect(secondID == firstID + 1)

            // A staged record whose commit is never asked for does not stay uncommitted.
            let staged = Date()
            let forgotten = log.stage(Self.transaction(3, recipients: ["d@x.test"]))
            let (_, forgottenDone) = try await forgotten.timedValue()
            let held = forgottenDone.timeIntervalSince(staged)
            #expect(held >= 0.45 && held < 30, "committed after \(held) s")
            #expect(try await log.reader.deliveries(matching: DeliveryFilter(recipient: "d@x.test")).count == 1)
            // A submitted record is committed at once, and an amendment goes through the same
            // writer.
            let (id, _) = try await log.submit(Self.transaction(4, recipients: ["e@x.test"])).timedValue()
            var failed = Self.transaction(4, recipients: ["e@x.test"], status: .deferred).recipients
            failed[0].code = 451
            try log.amend(transaction: id, recipients: failed)
            #expect(try await log.reader.deliveries(matching: DeliveryFilter(status: .deferred)).map(\.recipient) == ["e@x.test"])
        }
    }

    @Test("on ext4 the log's database and WAL carry the no-atime attribute, so reading the log after a commit leaves the WAL's access time alone")
    func noAccessTimes() async throws {
        try await ScratchFileSystem.with { mountPoint in
            let path = mountPoint + "/deliveries.sqlite"
            let log = try DeliveryLog(path: path)
            let lsattr = try External.require("lsattr")
            let listed = try await runProcess(lsattr, [path, path + "-wal"])
            let lines = listed.output.split(separator: "\n")
            #expect(listed.status == 0 && lines.count == 2, "\(listed.output)")
            for line in lines { #expect(line.split(separator: " ").first?.contains("A") == true, "\(line)") }
            // Coarse file times move in ticks of a few milliseconds: the pauses keep the WAL's
            // creation, the commit that changes it and the read apart, so that under relatime a
            // read would have to move the access time past the commit's modification time.
            try await Task.sleep(for: .milliseconds(30))
            _ = try await Self.commitOffPool(log, Self.transaction(1, recipients: ["a@x.test"]))
            try await Task.sleep(for: .milliseconds(30))
            #expect(try await log.reader.deliveries(matching: DeliveryFilter()).count == 1)
            var info = stat()
            #expect(stat(path + "-wal", &info) == 0)
            let accessed = Double(info.st_atim.tv_sec) + Double(info.st_atim.tv_nsec) / 1e9
            let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
            #expect(accessed < modified, "the read wrote the WAL's access time (\(accessed) ≥ \(modified))")
        }
    }

    @Test("a submitted record commits while the caller goes on; amend rewrites a recipient's outcome")
    func submitAndAmend() async throws {
        try await withTemporaryDirectory { directory in
            let log = try DeliveryLog(path: directory + "/d.sqlite")
            let tickets = (1...20).map { log.submit(Self.transaction($0, recipients: ["alice@x.test", "bob@x.test"])) }
            var ids: [Int64] = []
            for ticket in tickets { ids.append(try await ticket.value()) }
            #expect(Set(ids).count == 20)
            var failed = Self.transaction(1, recipients: ["bob@x.test"]).recipients[0]
            failed.status = .deferred
            failed.code = 451
            failed.enhancedCode = "4.3.0"
            failed.text = "<bob@x.test> could not sync"
            try log.amend(transaction: ids[0], recipients: [failed])
            let rows = try await log.reader.deliveries(matching: DeliveryFilter())
            let amended = rows.filter { $0.sessionID == "S1" && $0.recipient == "bob@x.test" }
            #expect(amended.count == 1 && amended.first?.status == .deferred && amended.first?.code == 451 && amended.first?.file == nil)
            #expect(rows.filter { $0.status == .delivered }.count == 39)
        }
    }

    @Test("timestamps: fixed-width RFC 3339 in UTC that parses back, and RFC 5322 dates for trace fields")
    func timestamps() throws {
        let date = Date(timeIntervalSince1970: 1_795_000_000.123456)
        let text = Timestamp.format(date)
        #expect(text == "2026-11-18T11:06:40.123456Z")
        #expect(abs((Timestamp.parse(text)?.timeIntervalSince1970 ?? 0) - date.timeIntervalSince1970) < 0.001)
        #expect(Timestamp.parse("2026-11-29T10:00:00+01:00")?.timeIntervalSince1970 == 1_795_942_800)
        #expect(Timestamp.parse("yesterday") == nil)
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_000_000_000.015_625)) == "2001-09-09T01:46:40.015625Z")
        #expect(Timestamp.rfc5322(date) == "Wed, 18 Nov 2026 11:06:40 +0000")
        #expect(Timestamp.rfc5322(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 +0000")
    }
}

extension DeliveryLogTests {
    /// ``DeliveryLog/commit(_:)`` off the concurrency pool (see ``DeliveryLog/Ticket/value()``).
    static func commitOffPool(_ log: DeliveryLog, _ record: TransactionRecord) async throws -> Int64 {
        try await log.submit(record).value()
    }
}

extension DeliveryLog.Ticket {
    /// ``wait()`` on a thread of its own: blocking one of the concurrency pool's threads (two
    /// on a two-core machine) for seconds starved other tests running alongside, whose clients
    /// then missed their servers' read timeouts; Dispatch's global queue is as narrow.
    func value() async throws -> Int64 {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try self.wait() }) }.start()
        }
    }

    /// ``value()`` and when the wait returned, taken on the waiting thread: the test's task may
    /// resume much later when other tests hold the concurrency pool (a full CI run once resumed
    /// it 3.3 s after a commit made at 0.3 s), and a timing read after the `await` counts that.
    func timedValue() async throws -> (Int64, Date) {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { (try self.wait(), Date()) }) }.start()
        }
    }
}
