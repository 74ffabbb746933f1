import Foundation
import SMTPCore
import Testing
import TestSupport

/// The man pages in docs/man are generated from the commands' help (swift-argument-parser's
/// generate-manual plugin). This checks that they describe every option the binary has, so a
/// new option without regenerated pages fails here.
@Suite("docs/man", .timeLimit(.minutes(1)))
struct ManualTests {
    static let commands = [["serve"], ["deliver"], ["send"], ["debug-server"], ["check"], ["config"], ["deliveries", "list"], ["deliveries", "show"],
                           ["deliveries", "stats"], ["deliveries", "verify"], ["deliveries", "prune"], ["sieve", "check"], ["sieve", "test"]]

    @Test("every option in --help has its entry in the command's man page", arguments: commands)
    func manualCoversHelp(command: [String]) async throws {
        let help = try await runProcess(letterboxExecutable(), command + ["--help"])
        #expect(help.status == 0)
        let options = Set(help.output.matches(of: /--[a-z][a-z0-9-]+/).map { String($0.output) })
            .subtracting(["--help"])
        // `sieve check` takes a file and nothing else.
        #expect(!options.isEmpty || command == ["sieve", "check"])
        let page = try String(contentsOfFile: repositoryRoot + "/docs/man/letterbox." + command.joined(separator: ".") + ".1",
                              encoding: .utf8)
        for option in options {
            #expect(page.contains("Fl -" + option.dropFirst(2) + " ") || page.contains("Fl -" + option.dropFirst(2) + "\n"), "\(option) is missing from the man page of \(command)")
        }
    }

    @Test("letterbox.conf(5) names every setting letterbox config prints, with its default; the pages have EXIT STATUS and EXAMPLES")
    func configurationPage() async throws {
        let page = try String(contentsOfFile: repositoryRoot + "/docs/man/letterbox.conf.5", encoding: .utf8)
        let settings = try await runProcess(letterboxExecutable(), ["config"])
        let names = settings.output.split(separator: "\n").compactMap { line -> String? in
            if line.hasPrefix("# configuration file") || line.hasPrefix("# no configuration file") { return nil }
            return line.hasPrefix("# ") ? String(line.dropFirst(2).split(separator: " ")[0]) : String(line.split(separator: " ")[0])
        }
        #expect(names.count >= 25)
        for name in names { #expect(page.contains(".It Cm \(name) No = "), "\(name) is missing from letterbox.conf(5)") }
        #expect(page.contains(".It Cm fsync No = Ar fsync\n") && page.contains("Default: always."))
        for command in Self.commands where command != ["debug-server"] {
            let text = try String(contentsOfFile: repositoryRoot + "/docs/man/letterbox." + command.joined(separator: ".") + ".1", encoding: .utf8)
            #expect(text.contains(".Sh \"EXIT STATUS\"\n.Bl") && text.contains(".Sh EXAMPLES"), "\(command)")
        }
    }

    @Test("the top-level help lists every subcommand")
    func topLevel() async throws {
        let help = try await runProcess(letterboxExecutable(), ["--help"])
        for command in ["serve", "deliver", "deliveries", "send"] { #expect(help.output.contains("  " + command)) }
    }
}

@Suite("The version")
struct VersionTests {
    @Test("letterbox --version prints the package's version, the newest in CHANGELOG.md, and serve says it at start")
    func version() async throws {
        let printed = try await runProcess(letterboxExecutable(), ["--version"])
        #expect(printed.status == 0)
        let version = printed.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(version == PackageVersion.current)
        let changelog = try String(contentsOfFile: repositoryRoot + "/CHANGELOG.md", encoding: .utf8)
        let newest = changelog.split(separator: "\n").first { $0.hasPrefix("## ") }
        #expect(newest?.hasPrefix("## \(version) ") == true, "\(newest ?? "no version heading")")
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data")
            let started = try await agent.waitForOutput("mail in")
            _ = await agent.stopAndWait()
            #expect(started.contains("letterbox \(version): mail in"), "\(started)")
        }
    }
}
