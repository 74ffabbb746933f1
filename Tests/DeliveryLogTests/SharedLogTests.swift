import DeliveryLog
import Foundation
import GRDB
import Testing
import TestSupport

/// The log shared with other processes, as operators share it: the `sqlite3` tool opening it
/// read-write beside the agent, read-only readers, and the WAL kept bounded.
@Suite("Delivery log shared with other processes", .timeLimit(.minutes(2)))
struct SharedLogTests {
    static func transaction(_ index: Int, recipients: Int = 1, text: String = "ok") -> TransactionRecord {
        DeliveryLogTests.transaction(index, recipients: (0..<recipients).map { "r\(index)-\($0)@x.test" }).with(text: text)
    }

    @Test("another process that opens and closes the log read-write while it is open leaves its WAL alone: every later commit is seen by others and survives")
    func secondProcessReadWrite() async throws {
        let sqlite = try External.require("sqlite3")
        try await withTemporaryDirectory { directory in
            let path = directory + "/deliveries.sqlite"
            let log = try DeliveryLog(path: path)
            for round in 1...5 {
                _ = try await DeliveryLogTests.commitOffPool(log, Self.transaction(round))
                // What an operator does: sqlite3 read-write (it writes on open, and the last
                // connection to close checkpoints and deletes the WAL).
                let seen = try await runProcess(sqlite, [path, "SELECT COUNT(*) FROM deliveries;"])
                #expect(seen.output == "\(round)\n", "round \(round): \(seen.output)")
                #expect(FileManager.default.fileExists(atPath: path + "-wal"), "round \(round): the live WAL was deleted")
            }
            // This process's descriptors still name the files on disk, not deleted ones.
            let deleted = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap {
                try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)
            }.filter { $0.hasPrefix(directory) && $0.hasSuffix("(deleted)") }
            #expect(deleted.isEmpty, "\(deleted)")
            try log.close()
            let after = try await runProcess(sqlite, ["-readonly", path, "PRAGMA integrity_check; SELECT COUNT(*) FROM deliveries;"])
            #expect(after.output == "ok\n5\n")
        }
    }

    @Test("a reader opens the log read-only: no migration, no write, nothing deleted on close; an older, newer or foreign file is refused by name")
    func readerIsReadOnly() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/deliveries.sqlite"
            let log = try DeliveryLog(path: path)
            _ = try await DeliveryLogTests.commitOffPool(log, Self.transaction(1, recipients: 2))
            let before = try Self.modificationTimes(path)
            do {
                let reader = try DeliveryLogReader(path: path)
                #expect(try await reader.deliveries(matching: DeliveryFilter()).count == 2)
                #expect(try await reader.integrityCheck() == ["ok"])
            }
            #expect(try Self.modificationTimes(path) == before)
            // The writer still commits, and the reader's rows come from the same WAL.
            _ = try await DeliveryLogTests.commitOffPool(log, Self.transaction(2))
            #expect(try await DeliveryLogReader(path: path).stats().deliveries == 3)
            try log.close()

            #expect(throws: DeliveryLogError.missing(path: directory + "/none.sqlite")) {
                try DeliveryLogReader(path: directory + "/none.sqlite")
            }
            let text = directory + "/text"
            try "not a database".write(toFile: text, atomically: true, encoding: .utf8)
            #expect(throws: DeliveryLogError.notALog(path: text)) { try DeliveryLogReader(path: text) }
            let empty = directory + "/empty.sqlite"
            try await DatabaseQueue(path: empty).write { try $0.execute(sql: "CREATE TABLE t (a)") }
            #expect(throws: DeliveryLogError.notALog(path: empty)) { try DeliveryLogReader(path: empty) }
            // Made by an older letterbox: the reader does not migrate it, and says what to do.
            let old = directory + "/old.sqlite"
            try await DatabaseQueue(path: old).write { db in
                try db.execute(sql: """
                    CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                    INSERT INTO grdb_migrations VALUES ('v1: transactions and deliveries');
                    """)
            }
            do {
                _ = try DeliveryLogReader(path: old)
                Issue.record("an older log was opened")
            } catch let error as DeliveryLogError {
                guard case .olderSchema = error else { Issue.record("\(error)"); return }
                #expect(error.description.contains("start letterbox serve"))
            }
            let migrations = try await DatabaseQueue(path: old).read { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations") }
            #expect(migrations == ["v1: transactions and deliveries"])
            // Made by a newer one.
            let newer = directory + "/newer.sqlite"
            try DeliveryLog(path: newer).close()
            try await DatabaseQueue(path: newer).write { try $0.execute(sql: "INSERT INTO grdb_migrations VALUES ('v99: later')") }
            #expect(throws: DeliveryLogError.newerSchema(path: newer)) { try DeliveryLogReader(path: newer) }
        }
    }

    @Test("close commits what was handed over, closes every connection (the writer last), and the WAL is checkpointed away")
    func closeCheckpoints() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/deliveries.sqlite"
            let log = try DeliveryLog(path: path)
            let tickets = (1...20).map { log.submit(Self.transaction($0)) }
            let staged = log.stage(Self.transaction(21))
            try log.close()
            for ticket in tickets { _ = try ticket.wait() }
            _ = try staged.wait()
            #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
            let reader = try DeliveryLogReader(path: path)
            #expect(try await reader.stats().deliveries == 21)
            try log.close()   // again: nothing happens
        }
    }

    @Test("a staged record's request that comes after its record went out with another's commit is not counted for the next record")
    func lateRequestIsNotCounted() async throws {
        try await withTemporaryDirectory { directory in
            // A staged record never asked for waits 30 s here, not 0.5: a loaded machine's pause
            // must not pass for the leak.
            let log = try DeliveryLog(path: directory + "/d.sqlite", gatherWindow: 0, stagedLimit: 30)
            let first = log.stage(Self.transaction(1))
            let second = log.stage(Self.transaction(2))
            first.requestCommit(announced: false)
            _ = try await first.value()
            _ = try await second.value()   // committed with the first
            second.requestCommit(announced: false)   // late: its record is already committed
            let third = log.stage(Self.transaction(3))
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await log.reader.stats().deliveries == 2, "a staged record was committed without its request")
            third.requestCommit(announced: false)
            _ = try await third.value()
            #expect(try await log.reader.stats().deliveries == 3)
            try log.close()
        }
    }

    @Test("the WAL grows while a reader holds a read transaction open, and is cut back to the limit once it lets go")
    func walBounded() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/d.sqlite"
            let log = try DeliveryLog(path: path, durable: false)
            let big = String(repeating: "x", count: 4000)
            func commitBatch(_ base: Int) async throws {
                let tickets = (0..<50).map { log.submit(Self.transaction(base + $0, recipients: 4, text: big)) }
                for ticket in tickets { _ = try await ticket.value() }
            }
            // A reader in the middle of a read transaction, on a thread of its own.
            var configuration = Configuration()
            configuration.readonly = true
            let reader = try DatabaseQueue(path: path, configuration: configuration)
            let reading = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
            Thread {
                try? reader.read { db in
                    _ = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM deliveries")
                    reading.signal()
                    release.wait()
                }
                done.signal()
            }.start()
            reading.wait()
            for batch in 0..<14 { try await commitBatch(batch * 100) }
            let grown = try Self.size(path + "-wal")
            #expect(grown > DeliveryLog.walSizeLimit, "the WAL did not grow past the limit (\(grown) octets)")
            release.signal()
            done.wait()
            for batch in 14..<20 { try await commitBatch(batch * 100) }
            let after = try Self.size(path + "-wal")
            #expect(after <= DeliveryLog.walSizeLimit, "WAL \(after) octets after the reader let go (had \(grown))")
            try log.close()
        }
    }

    @Test("an amendment whose commit failed (the log locked by another process) is made with the next commit, or at close; the row never stays delivered")
    func failedAmendmentIsRetried() async throws {
        try await withTemporaryDirectory { directory in
            for retriedBy in ["next commit", "close"] {
                let path = directory + "/\(retriedBy.replacingOccurrences(of: " ", with: "-")).sqlite"
                let log = try DeliveryLog(path: path, busyTimeout: 0.2)
                let id = try await DeliveryLogTests.commitOffPool(log, DeliveryLogTests.transaction(1, recipients: ["bob@x.test"]))
                let holder = try await DatabaseLockHolder.hold(path)
                var failed = DeliveryLogTests.transaction(1, recipients: ["bob@x.test"], status: .deferred).recipients
                failed[0].code = 451
                #expect(throws: (any Error).self) { try log.amend(transaction: id, recipients: failed) }
                await holder.release()
                if retriedBy == "close" {
                    try log.close()
                } else {
                    _ = try await DeliveryLogTests.commitOffPool(log, DeliveryLogTests.transaction(2, recipients: ["carol@x.test"]))
                }
                let rows = try await DeliveryLogReader(path: path).deliveries(matching: DeliveryFilter(recipient: "bob@x.test"))
                #expect(rows.map(\.status) == [.deferred], "\(retriedBy): \(rows.map(\.status))")
                try log.close()
            }
        }
    }

    static func size(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }

    /// The database's and the WAL's (a reader writes its read marks into the shared memory
    /// file, by design).
    static func modificationTimes(_ path: String) throws -> [Date?] {
        try [path, path + "-wal"].map { try FileManager.default.attributesOfItem(atPath: $0)[.modificationDate] as? Date }
    }
}

extension TransactionRecord {
    func with(text: String) -> TransactionRecord {
        var copy = self
        for index in copy.recipients.indices { copy.recipients[index].text = text }
        return copy
    }
}
