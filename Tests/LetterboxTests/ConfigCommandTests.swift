import Foundation
import Testing
import TestSupport

/// `letterbox config` and the configuration file found without `--config`.
@Suite("letterbox config", .timeLimit(.minutes(1)))
struct ConfigCommandTests {
    /// The settings of `config`'s output: `name = value` by the origin after `#`.
    static func settings(_ output: String) -> [(setting: String, origin: String)] {
        output.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            let parts = line.split(separator: "#", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }
    }

    @Test("config prints every setting with its origin (file line, command line, default); -n only the changed; its output is a valid file")
    func effectiveSettings() async throws {
        try await withTemporaryDirectory { directory in
            let file = directory + "/letterbox.conf"
            try "data-dir = \(directory)/state\ndomain = a.test\ndomain = b.test   # two domains\nfsync = portable\n"
                .write(toFile: file, atomically: true, encoding: .utf8)
            let all = try await runProcess(letterboxExecutable(), ["config", "--config", file, "--socket-mode", "0600", "--quota-tempfail"])
            #expect(all.status == 0, "\(all.output)")
            let settings = Self.settings(all.output)
            for expected in [("data-dir = \(directory)/state", "\(file):1"), ("domain = a.test", "\(file):2"), ("domain = b.test", "\(file):3"),
                             ("fsync = portable", "\(file):4"), ("socket-mode = 0600", "command line"), ("quota-tempfail = true", "command line"),
                             ("max-recipients = 1000", "default"), ("database = \(directory)/state/deliveries.sqlite", "default"),
                             ("socket = \(directory)/state/lmtp.sock", "default")] {
                #expect(settings.contains { $0 == expected }, "\(expected) in \(all.output)")
            }
            #expect(all.output.hasPrefix("# configuration file: \(file) (--config)\n"))

            let changed = try await runProcess(letterboxExecutable(), ["config", "-n", "--config", file])
            #expect(Self.settings(changed.output).map(\.setting) == ["data-dir = \(directory)/state", "domain = a.test", "domain = b.test",
                                                                      "fsync = portable"], "\(changed.output)")
            // The output read back as a file gives the same settings.
            try all.output.write(toFile: directory + "/dumped.conf", atomically: true, encoding: .utf8)
            let again = try await runProcess(letterboxExecutable(), ["config", "--config", directory + "/dumped.conf"])
            #expect(Self.settings(again.output).map(\.setting) == settings.map(\.setting), "\(again.output)")

            let refused = try await runProcess(letterboxExecutable(), ["config", "--config", file, "--fsync", "sometimes"])
            #expect(refused.status == 64 && refused.output.contains("'always', 'portable' or 'never'"))
        }
    }

    @Test("every option of serve but --config, --help and --version is a setting of the file")
    func everyOptionIsASetting() async throws {
        let help = try await runProcess(letterboxExecutable(), ["serve", "--help"])
        let options = Set(help.output.matches(of: /--[a-z][a-z0-9-]+/).map { String($0.output.dropFirst(2)) })
            .subtracting(["config", "help", "version"])
        let printed = try await runProcess(letterboxExecutable(), ["config"])
        let settings = Set(printed.output.split(separator: "\n").compactMap { line -> String? in
            if line.hasPrefix("# configuration file") || line.hasPrefix("# no configuration file") { return nil }
            return String((line.hasPrefix("# ") ? line.dropFirst(2) : line).split(separator: " ")[0])
        })
        #expect(options.count >= 30)
        #expect(options.subtracting(settings).isEmpty, "options the configuration file does not take: \(options.subtracting(settings).sorted())")
    }

    @Test("$LETTERBOX_CONFIG names the file every command reads when --config is not given")
    func environment() async throws {
        try await withTemporaryDirectory { directory in
            let file = directory + "/site.conf"
            try "data-dir = \(directory)/state\ndomain = x.test\n".write(toFile: file, atomically: true, encoding: .utf8)
            let environment = ["LETTERBOX_CONFIG": file]
            let delivered = try await runProcess(letterboxExecutable(), ["deliver", "--sender", "a@b.test", "--recipient", "bob@x.test"],
                                                 input: "Subject: configured\n\nbody\n", environment: environment)
            #expect(delivered.status == 0, "\(delivered.output)")
            let foreign = try await runProcess(letterboxExecutable(), ["deliver", "--sender", "a@b.test", "--recipient", "bob@y.test"],
                                               input: "Subject: elsewhere\n\nbody\n", environment: environment)
            #expect(foreign.status == 67, "\(foreign.output)")   // y.test is not a local domain of the file
            let listed = try await runProcess(letterboxExecutable(), ["deliveries", "list", "--json"], environment: environment)
            #expect(listed.status == 0 && listed.output.contains("\"recipient\" : \"bob@x.test\""), "\(listed.output)")
            let shown = try await runProcess(letterboxExecutable(), ["config", "-n"], environment: environment)
            #expect(shown.output.hasPrefix("# configuration file: \(file) ($LETTERBOX_CONFIG)\n"), "\(shown.output)")
            let missing = try await runProcess(letterboxExecutable(), ["deliveries", "stats"], environment: ["LETTERBOX_CONFIG": directory + "/none.conf"])
            #expect(missing == (66, "letterbox deliveries stats: cannot read the configuration file: \(directory)/none.conf: No such file or directory\n"))
        }
    }
}
