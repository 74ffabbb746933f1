import Foundation
import Testing
import TestSupport

/// Every script/message pair of Tests/Fixtures/sieve through Pigeonhole's `sieve-test` and
/// `letterbox sieve test`: the same actions, normalised (folders, flags, redirect addresses,
/// reject, discard, vacation sent or not, implicit keep, compile and runtime errors). A pair
/// marked `# difference:` must differ, and docs/sieve.md must list it.
@Suite("Sieve against Pigeonhole", .serialized, .timeLimit(.minutes(5)))
struct SieveCompatibilityTests {
    static let fixtures = repositoryRoot + "/Tests/Fixtures/sieve"

    struct Case: Sendable {
        var name: String
        var script: String
        var message: String
        var from: String?
        var to: String?
        var difference: String?
    }

    static func cases() throws -> [Case] {
        let names = try FileManager.default.contentsOfDirectory(atPath: fixtures + "/cases").filter { $0.hasSuffix(".sieve") }.sorted()
        return try names.map { name in
            let text = try String(contentsOfFile: fixtures + "/cases/" + name, encoding: .utf8)
            var found = Case(name: name, script: fixtures + "/cases/" + name, message: fixtures + "/messages/plain.eml")
            for line in text.split(separator: "\n") where line.hasPrefix("# ") {
                let parts = line.dropFirst(2).split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2 else { continue }
                switch parts[0] {
                case "message": found.message = fixtures + "/messages/" + parts[1] + ".eml"
                case "from": found.from = parts[1]
                case "to": found.to = parts[1]
                case "difference": found.difference = parts[1]
                default: break
                }
            }
            return found
        }
    }

    /// An action, normalised: `store FOLDER [flags …]`, `redirect ADDRESS`, `reject`, `discard`,
    /// `vacation`, `error`, `compile-error`.
    static func normalised(_ entries: [(String, [String])]) -> [String] {
        entries.map { entry in
            let flags = Set(entry.1.map { $0.lowercased() }).sorted()
            return entry.0 + (flags.isEmpty ? "" : " flags " + flags.joined(separator: " "))
        }.sorted()
    }

    /// A private Pigeonhole set-up: its configuration and a mail store it may write, as nobody
    /// when the tests run as root (Dovecot refuses to deliver as root).
    struct Pigeonhole {
        let sieveTest: String
        let directory: String
        let asNobody: Bool

        func configuration(home: String) throws -> String {
            let file = home + "/dovecot.conf"
            try """
            protocols =
            mail_location = maildir:\(home)/mail
            sendmail_path = /bin/true
            plugin {
              sieve_extensions = +vacation-seconds
            }

            """.write(toFile: file, atomically: true, encoding: .utf8)
            return file
        }

        func makeHome() throws -> String {
            let home = directory + "/home-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: home + "/mail", withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o777])
            chmod(home, 0o777)
            return home
        }

        func run(_ arguments: [String], home: String) async throws -> (status: Int32, output: String) {
            let command = [sieveTest, "-c", try configuration(home: home)] + arguments
            if asNobody {
                return try await runProcess("/usr/sbin/runuser", ["-u", "nobody", "--", "env", "HOME=" + home, "USER=nobody"] + command)
            }
            return try await runProcess("/usr/bin/env", ["HOME=" + home] + command)
        }

        /// What Pigeonhole does: the dry run's actions, and for a vacation whether executing
        /// the script really sends it (RFC 3834's checks run only then).
        func outcome(_ testCase: Case) async throws -> [String] {
            let home = try makeHome()
            // Copies the nobody user may read.
            let script = home + "/script.sieve", message = home + "/message.eml"
            try FileManager.default.copyItem(atPath: testCase.script, toPath: script)
            try FileManager.default.copyItem(atPath: testCase.message, toPath: message)
            for file in [script, message] { chmod(file, 0o644) }
            var envelope: [String] = []
            if let from = testCase.from { envelope += ["-f", from] }
            if let to = testCase.to { envelope += ["-r", to] }
            let dry = try await run(envelope + [script, message], home: home)
            if dry.output.contains("failed to compile") { return ["compile-error"] }
            if dry.output.contains("final result: failed") { return ["error", "store INBOX"] }
            var entries: [(String, [String])] = []
            var sendsVacation = false
            for line in dry.output.split(separator: "\n").map(String.init) {
                if line.hasPrefix(" * store message in folder: ") {
                    entries.append(("store " + line.dropFirst(" * store message in folder: ".count), []))
                } else if line.hasPrefix("        + add IMAP flags: "), !entries.isEmpty {
                    entries[entries.count - 1].1 += line.dropFirst("        + add IMAP flags: ".count).split(separator: " ").map(String.init)
                } else if line.hasPrefix(" * redirect message to: ") {
                    let address = line.dropFirst(" * redirect message to: ".count).trimmingCharacters(in: CharacterSet(charactersIn: "<>"))
                    entries.append(("redirect " + address.lowercased(), []))
                } else if line.hasPrefix(" * reject message with reason: ") {
                    entries.append(("reject", []))
                } else if line == " * discard" {
                    entries.append(("discard", []))
                } else if line.hasPrefix(" * send vacation message") {
                    sendsVacation = true
                } else if line.hasPrefix(" * ") {
                    entries.append(("unknown " + line, []))
                }
            }
            if sendsVacation {
                // Executing stores for real: the folders the dry run named must exist.
                for entry in entries where entry.0.hasPrefix("store ") && entry.0 != "store INBOX" {
                    for sub in ["cur", "new", "tmp"] {
                        try FileManager.default.createDirectory(atPath: home + "/mail/." + entry.0.dropFirst(6) + "/" + sub,
                                                                withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
                    }
                }
                _ = try await runProcess("/bin/chmod", ["-R", "777", home + "/mail"])
                let executed = try await run(envelope + ["-e", script, message], home: home)
                if executed.output.contains("sent vacation response") { entries.append(("vacation", [])) }
            }
            return Self.normalised(entries)
        }

        static func normalised(_ entries: [(String, [String])]) -> [String] { SieveCompatibilityTests.normalised(entries) }
    }

    /// What `letterbox sieve test` prints, normalised the same way.
    static func letterbox(_ testCase: Case) async throws -> [String] {
        var arguments = ["sieve", "test", testCase.script, testCase.message]
        if let from = testCase.from { arguments += ["--from", from == "<>" ? "" : from] }
        if let to = testCase.to { arguments += ["--to", to] }
        let result = try await runProcess(letterboxExecutable(), arguments)
        if result.status == 65 { return ["compile-error"] }
        var entries: [(String, [String])] = []
        for line in result.output.split(separator: "\n").map(String.init) {
            let (head, flags) = line.range(of: " flags ").map { (String(line[..<$0.lowerBound]), line[$0.upperBound...].split(separator: " ").map(String.init)) }
                ?? (line, [])
            if line.hasPrefix("error: ") {
                entries.append(("error", []))
            } else if head == "keep" || head == "keep (implicit)" {
                entries.append(("store INBOX", flags))
            } else if head.hasPrefix("fileinto \"") {
                var folder = head.dropFirst("fileinto \"".count)
                if folder.hasSuffix(" create") { folder = folder.dropLast(" create".count) }
                entries.append(("store " + folder.dropLast(), flags))
            } else if line.hasPrefix("redirect <") {
                entries.append(("redirect " + line.dropFirst("redirect <".count).dropLast().lowercased(), []))
            } else if line.hasPrefix("reject ") || line.hasPrefix("ereject ") {
                entries.append(("reject", []))
            } else if line == "discard" {
                entries.append(("discard", []))
            } else if line.hasPrefix("vacation ") {
                entries.append(("vacation", []))
            } else if line != "no implicit keep" && !line.contains(": warning: ") {
                entries.append(("unknown " + line, []))
            }
        }
        return normalised(entries)
    }

    @Test("at least 200 pairs; each gives the same actions under both, or is a listed difference")
    func sameActions() async throws {
        let sieveTest = try External.require("sieve-test")
        let cases = try Self.cases()
        #expect(cases.count >= 200)
        let documentation = try String(contentsOfFile: repositoryRoot + "/docs/sieve.md", encoding: .utf8)
        try await withTemporaryDirectory { directory in
            chmod(directory, 0o777)
            let pigeonhole = Pigeonhole(sieveTest: sieveTest, directory: directory, asNobody: getuid() == 0)
            var agreed = 0
            for testCase in cases {
                let theirs = try await pigeonhole.outcome(testCase)
                let ours = try await Self.letterbox(testCase)
                if let difference = testCase.difference {
                    #expect(theirs != ours, "\(testCase.name) is listed as a difference but agrees: \(ours)")
                    #expect(documentation.contains(String(testCase.name.dropLast(".sieve".count))),
                            "\(testCase.name) differs (\(difference)) but docs/sieve.md does not list it")
                } else {
                    #expect(theirs == ours, "\(testCase.name): Pigeonhole \(theirs), Letterbox \(ours)")
                    if theirs == ours { agreed += 1 }
                }
            }
            print("Sieve compatibility: \(agreed) of \(cases.count) pairs agree with Pigeonhole; \(cases.filter { $0.difference != nil }.count) listed differences")
        }
    }
}
