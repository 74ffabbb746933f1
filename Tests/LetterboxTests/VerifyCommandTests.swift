import Foundation
import Testing
import TestSupport

/// `letterbox deliveries verify` finds what is wrong, not only that all is well.
@Suite("letterbox deliveries verify", .timeLimit(.minutes(1)))
struct VerifyCommandTests {
    @Test("a missing file, a truncated one and an unlogged one are reported; exit 1, and --strict counts the unlogged")
    func findsMismatches() async throws {
        try await withTemporaryDirectory { directory in
            for number in 1...3 {
                let delivered = try await runProcess(letterboxExecutable(), ["deliver", "--data-dir", directory, "--recipient", "bob@x.test"],
                                                     input: "Message-ID: <\(number)@x.test>\n\nmessage \(number)\n")
                #expect(delivered.status == 0)
            }
            // One into a Maildir++ folder: its row names the folder's own directory.
            let folder = try await runProcess(letterboxExecutable(), ["deliver", "--data-dir", directory, "--recipient", "bob+lists@x.test",
                                                                      "--recipient-delimiter", "+", "--detail-folders", "create"],
                                              input: "Message-ID: <4@x.test>\n\nto a folder\n")
            #expect(folder.status == 0, "\(folder.output)")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: directory + "/mail/x.test/bob/.lists/new")) ?? []).count == 1)
            let clean = try await runProcess(letterboxExecutable(), ["deliveries", "verify", "--data-dir", directory])
            #expect(clean.status == 0, "\(clean.output)")
            #expect(clean.output.contains("delivered rows checked: 4") && clean.output.contains("mismatches: 0"), "\(clean.output)")

            let new = directory + "/mail/x.test/bob/new"
            let files = try FileManager.default.contentsOfDirectory(atPath: new).sorted()
            try FileManager.default.removeItem(atPath: new + "/" + files[0])
            try "cut".write(toFile: new + "/" + files[1], atomically: false, encoding: .utf8)
            try "stray".write(toFile: new + "/stray-file", atomically: false, encoding: .utf8)
            let broken = try await runProcess(letterboxExecutable(), ["deliveries", "verify", "--data-dir", directory, "--json"])
            #expect(broken.status == 1)
            let report = try #require(try JSONSerialization.jsonObject(with: Data(broken.output.utf8)) as? [String: Any])
            #expect((report["missing"] as? [String])?.count == 1)
            #expect((report["missing"] as? [String])?.first?.contains(files[0]) == true)
            #expect((report["damaged"] as? [String])?.count == 1)
            #expect((report["unlogged"] as? [String]) == [directory + "/mail/x.test/bob/stray-file"])
            #expect(report["mismatches"] as? Int == 2)
            #expect(report["database"] as? [String] == ["ok"])
            let strict = try await runProcess(letterboxExecutable(), ["deliveries", "verify", "--data-dir", directory, "--strict", "--json"])
            #expect((try JSONSerialization.jsonObject(with: Data(strict.output.utf8)) as? [String: Any])?["mismatches"] as? Int == 3)
        }
    }

    @Test("thousands of lines are summarised: the first 20 of a category and how many more, unless --all")
    func summarised() async throws {
        try await withTemporaryDirectory { directory in
            let delivered = try await runProcess(letterboxExecutable(), ["deliver", "--data-dir", directory, "--recipient", "bob@x.test"],
                                                 input: "Message-ID: <1@x.test>\n\nmessage\n")
            #expect(delivered.status == 0)
            for number in 1...25 {
                try "stray".write(toFile: directory + "/mail/x.test/bob/new/stray-\(number)", atomically: false, encoding: .utf8)
            }
            let summary = try await runProcess(letterboxExecutable(), ["deliveries", "verify", "--data-dir", directory])
            #expect(summary.status == 0, "\(summary.output)")
            #expect(summary.output.contains("unlogged: 25\n") && summary.output.contains("  … and 5 more (--all lists them)\n"), "\(summary.output)")
            #expect(summary.output.split(separator: "\n").filter { $0.contains("stray-") }.count == 20)
            let all = try await runProcess(letterboxExecutable(), ["deliveries", "verify", "--data-dir", directory, "--all"])
            #expect(all.output.split(separator: "\n").filter { $0.contains("stray-") }.count == 25 && !all.output.contains("more"))
        }
    }

    @Test("the log records absolute Maildir paths when the data directory is relative, and verify matches Maildirs by directory, not by spelling: a relative --mail-root, a trailing slash, //")
    func pathsNotStrings() async throws {
        try await withTemporaryDirectory { directory in
            // As the README runs it: relative paths, from the directory holding the data.
            let delivered = try await runProcess(letterboxExecutable(), ["deliver", "--data-dir", "letterbox-data", "--recipient", "bob@x.test"],
                                                 input: "Message-ID: <1@x.test>\n\nrelative\n", currentDirectory: directory)
            #expect(delivered.status == 0, "\(delivered.output)")
            let listed = try await runProcess(letterboxExecutable(), ["deliveries", "list", "--json", "--data-dir", "letterbox-data"],
                                              currentDirectory: directory)
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]])
            let mailbox = try #require(rows.first?["mailbox"] as? String)
            #expect(mailbox.hasPrefix("/") && mailbox.hasSuffix("/letterbox-data/mail/x.test/bob") && !mailbox.contains("/./"), "\(mailbox)")
            for root in ["letterbox-data/mail", "letterbox-data/mail/", "./letterbox-data//mail", directory + "/letterbox-data/mail/"] {
                let verified = try await runProcess(letterboxExecutable(), ["deliveries", "verify", "--json", "--data-dir", "letterbox-data",
                                                                            "--mail-root", root], currentDirectory: directory)
                #expect(verified.status == 0, "\(root): \(verified.output)")
                let report = try #require(try JSONSerialization.jsonObject(with: Data(verified.output.utf8)) as? [String: Any])
                #expect((report["unlogged"] as? [Any])?.isEmpty == true && (report["missing"] as? [Any])?.isEmpty == true,
                        "\(root): \(verified.output)")
            }
        }
    }
}
