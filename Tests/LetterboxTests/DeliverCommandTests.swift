import Foundation
import Testing
import TestSupport

/// `letterbox deliver`, the pipe-transport entry point, as the real binary.
@Suite("letterbox deliver", .timeLimit(.minutes(1)))
struct DeliverCommandTests {
    func deliver(_ dataDir: String, _ arguments: [String], message: String = "Subject: piped\n\nbody\n") async throws -> (status: Int32, output: String) {
        try await runProcess(letterboxExecutable(), ["deliver", "--data-dir", dataDir, "--hostname", "mx.test"] + arguments, input: message)
    }

    static func newFiles(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path + "/new")) ?? []).map { path + "/new/" + $0 }
    }

    @Test("two recipients from standard input: exit 0, one file linked twice, two log rows")
    func delivers() async throws {
        try await withTemporaryDirectory { directory in
            let result = try await deliver(directory, ["--sender", "alice@example.org", "--recipient", "bob@x.test", "--recipient", "carol@x.test"])
            #expect(result.status == 0, "\(result.output)")
            let bob = Self.newFiles(directory + "/mail/x.test/bob"), carol = Self.newFiles(directory + "/mail/x.test/carol")
            #expect(bob.count == 1 && carol.count == 1)
            let content = (try? String(contentsOfFile: bob[0], encoding: .utf8)) ?? ""
            #expect(content.hasPrefix("Return-Path: <alice@example.org>\n"))
            #expect(content.hasSuffix("Subject: piped\n\nbody\n"))
            let listed = try await runProcess(letterboxExecutable(), ["deliveries", "list", "--json", "--data-dir", directory])
            let rows = try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]]
            #expect(Set(rows?.compactMap { $0["recipient"] as? String } ?? []) == ["bob@x.test", "carol@x.test"])
        }
    }

    @Test("--json rows have the same keys whatever the delivery had: null where a value is absent (a refused recipient's file)")
    func jsonKeys() async throws {
        try await withTemporaryDirectory { directory in
            try "bob@x.test\n".write(toFile: directory + "/users", atomically: true, encoding: .utf8)
            _ = try await deliver(directory, ["--users", directory + "/users", "--recipient", "bob@x.test", "--recipient", "dave@x.test"])
            let listed = try await runProcess(letterboxExecutable(), ["deliveries", "list", "--json", "--data-dir", directory])
            let rows = (try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]]) ?? []
            #expect(rows.count == 2, "\(listed.output)")
            let keys = rows.map { Set($0.keys) }
            #expect(keys.count == 2 && keys[0] == keys[1], "\(keys)")
            #expect(keys.first?.isSuperset(of: ["file", "folder", "original_recipient", "mailbox", "message_id", "host"]) == true)
            let refused = rows.first { ($0["recipient"] as? String) == "dave@x.test" }
            #expect(refused?["file"] is NSNull, "\(refused ?? [:])")
        }
    }

    @Test("serve's config file works for deliver and deliveries: each takes the options it knows; unknown names are refused")
    func sharedConfigFile() async throws {
        try await withTemporaryDirectory { directory in
            let config = directory + "/letterbox.conf"
            try """
            data-dir = \(directory)/state
            users = \(directory)/users
            socket-mode = 0600
            max-recipients = 5
            log-format = json
            recipient-delimiter = +
            """.write(toFile: config, atomically: true, encoding: .utf8)
            try "bob@x.test\n".write(toFile: directory + "/users", atomically: true, encoding: .utf8)
            let delivered = try await runProcess(letterboxExecutable(), ["deliver", "--config", config, "--recipient", "bob+news@x.test"],
                                                 input: "Subject: configured\n\nbody\n")
            #expect(delivered.status == 0, "\(delivered.output)")
            #expect(Self.newFiles(directory + "/state/mail/x.test/bob").count == 1)
            let unknown = try await runProcess(letterboxExecutable(), ["deliver", "--config", config, "--recipient", "carol@x.test"],
                                               input: "Subject: configured\n\nbody\n")
            #expect(unknown.status == 67, "\(unknown.output)")
            let listed = try await runProcess(letterboxExecutable(), ["deliveries", "list", "--config", config, "--json"])
            #expect(listed.status == 0, "\(listed.output)")
            #expect(listed.output.contains("\"recipient\" : \"bob@x.test\"") && listed.output.contains("<bob+news@x.test> delivered"), "\(listed.output)")

            try "data-dir = \(directory)/state\nmax-recipent = 5\n".write(toFile: config, atomically: true, encoding: .utf8)
            let typo = try await runProcess(letterboxExecutable(), ["deliveries", "stats", "--config", config])
            #expect(typo.status == 78 && typo.output.contains("unknown option `max-recipent`"), "\(typo.output)")
        }
    }

    @Test("every local fault exits 75 (EX_TEMPFAIL, which pipe transports defer) with one line saying why; never 64 or 1")
    func localFaultsExit75() async throws {
        try await withTemporaryDirectory { directory in
            let users = directory + "/users"
            try "bob@x.test quota=lots\n".write(toFile: users, atomically: true, encoding: .utf8)
            let notADirectory = directory + "/file"
            try "x".write(toFile: notADirectory, atomically: true, encoding: .utf8)
            let faults: [(String, [String])] = [
                ("a bad option value", ["--fsync", "sometimes"]),
                ("an unknown option", ["--no-such-option"]),
                ("a missing users file", ["--users", directory + "/none"]),
                ("a users file that does not parse", ["--users", users]),
                ("a missing configuration file", ["--config", directory + "/none.conf"]),
                ("a log that cannot be made", ["--database", notADirectory + "/deliveries.sqlite"]),
                ("a data directory that cannot be made", ["--data-dir", notADirectory + "/data"]),
                ("a sender that is not an address", ["--sender", "not an address"]),
            ]
            for (fault, arguments) in faults {
                let result = try await deliver(directory + "/data", arguments + ["--recipient", "bob@x.test"])
                #expect(result.status == 75, "\(fault): exit \(result.status): \(result.output)")
                let lines = result.output.split(separator: "\n")
                #expect(lines.count == 1 && lines[0].hasPrefix("letterbox deliver: "), "\(fault): \(result.output)")
                #expect(!result.output.contains("NSCocoaErrorDomain") && !result.output.contains("Usage:"), "\(fault): \(result.output)")
            }
            #expect(Self.newFiles(directory + "/data/mail/x.test/bob").isEmpty)
        }
    }

    @Test("MAILER-DAEMON (what pipe(8) passes for the null sender), <> and an empty sender are the null sender")
    func nullSender() async throws {
        try await withTemporaryDirectory { directory in
            for sender in ["MAILER-DAEMON", "mailer-daemon", "<>", ""] {
                let result = try await deliver(directory, ["--sender", sender, "--recipient", "bob@x.test"])
                #expect(result.status == 0, "\(sender): \(result.output)")
            }
            let files = Self.newFiles(directory + "/mail/x.test/bob")
            #expect(files.count == 4)
            for file in files {
                #expect((try? String(contentsOfFile: file, encoding: .utf8))?.hasPrefix("Return-Path: <>\n") == true)
            }
        }
    }

    @Test("exit statuses: 67 unknown user, 65 bad address, 75 temporary failure")
    func exitStatuses() async throws {
        try await withTemporaryDirectory { directory in
            let users = directory + "/users"
            try "bob@x.test\n".write(toFile: users, atomically: true, encoding: .utf8)
            let unknown = try await deliver(directory, ["--users", users, "--recipient", "nobody@x.test"])
            #expect(unknown.status == 67)
            #expect(unknown.output.contains("nobody@x.test: 550 5.1.1"))
            let bad = try await deliver(directory, ["--recipient", "not an address"])
            #expect(bad.status == 65)
            let traversal = try await deliver(directory, ["--recipient", "\".hidden\"@x.test"])
            #expect(traversal.status == 65)
            // Break bob's Maildir: new/ is a file.
            let bob = directory + "/mail/x.test/bob"
            for sub in ["tmp", "cur"] { try FileManager.default.createDirectory(atPath: bob + "/" + sub, withIntermediateDirectories: true) }
            #expect(FileManager.default.createFile(atPath: bob + "/new", contents: Data()))
            let temporary = try await deliver(directory, ["--recipient", "bob@x.test"])
            #expect(temporary.status == 75)
            #expect(temporary.output.contains("bob@x.test: 451 4.3.0"))
        }
    }
}
