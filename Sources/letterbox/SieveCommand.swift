import ArgumentParser
import Foundation
import Maildir
import Sieve

/// `letterbox sieve`: try Sieve scripts without delivering anything.
struct SieveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sieve",
        abstract: "Check a Sieve script, or show what it would do with a message.",
        subcommands: [SieveCheckCommand.self, SieveTestCommand.self]
    )
}

/// Reads a script, or fails with EX_NOINPUT naming it and why.
func readScript(_ path: String) throws -> String {
    do {
        return try TextFile.contents(of: path)
    } catch {
        throw CommandFailure("cannot read \(path): \(describe(error))", status: CommandExit.noInput)
    }
}

/// Compiles `text`, or fails with EX_DATAERR and one `FILE:LINE:COLUMN: message` line per error.
func compileScript(_ text: String, path: String) throws -> SieveProgram {
    do {
        let program = try Compiler.compile(text)
        for warning in program.warnings {
            FileHandle.standardError.write(Data("\(path):\(warning.position.line):\(warning.position.column): warning: \(warning.message)\n".utf8))
        }
        return program
    } catch {
        // Compiler style, one error per line, so that editors can jump to each.
        for problem in error.errors {
            FileHandle.standardError.write(Data("\(path):\(problem.position.line):\(problem.position.column): \(problem.message)\n".utf8))
        }
        throw ExitCode(CommandExit.dataError)
    }
}

/// `letterbox sieve check FILE`.
struct SieveCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Compile a Sieve script and report its errors.",
        discussion: """
        Prints "FILE: ok" and exits 0 when the script compiles; otherwise prints each error as \
        FILE:LINE:COLUMN: message and exits 65 (EX_DATAERR). A file that cannot be read is 66.
        """
    )

    @Argument(help: "The script.")
    var file: String

    func run() throws {
        _ = try compileScript(try readScript(file), path: file)
        print("\(file): ok")
    }
}

/// `letterbox sieve test SCRIPT MESSAGE`.
struct SieveTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Show the actions a Sieve script takes on a message, without delivering it.",
        discussion: """
        Runs SCRIPT on MESSAGE (a file in RFC 5322 form) and prints one line per action: \
        keep, fileinto "FOLDER", redirect <ADDRESS>, reject or ereject "REASON", discard, \
        vacation to <SENDER>; flags follow an action that stores the message, and the last line \
        says whether the implicit keep applies. A script that fails while running prints the \
        error and keeps the message, as delivery does. Exit status 0, 65 for a script that does \
        not compile, 66 for a file that cannot be read.
        """
    )

    @Argument(help: "The script.")
    var script: String

    @Argument(help: "The message.")
    var message: String

    @Option(name: .long, help: "The envelope sender (default: the Return-Path field, else the first From address).")
    var from: String?

    @Option(name: .long, help: "The envelope recipient (default: the first To address).")
    var to: String?

    func run() throws {
        let program = try compileScript(try readScript(script), path: script)
        // Read as octets: a message's 8-bit parts need not be UTF-8.
        guard let data = FileManager.default.contents(atPath: message) else {
            throw CommandFailure("cannot read \(message): \(String(cString: strerror(errno)))", status: CommandExit.noInput)
        }
        let octets = Array(data)
        let headers = SieveMessage(octets, envelopeFrom: "", envelopeTo: "")
        let sender = from ?? headers.firstAddress(in: "return-path") ?? headers.firstAddress(in: "from") ?? ""
        let recipient = to ?? headers.firstAddress(in: "to") ?? "recipient@localhost"
        let parsed = SieveMessage(octets, envelopeFrom: sender, envelopeTo: recipient)
        let environment = SieveEnvironment(now: Date().timeIntervalSince1970, localZone: TimeZone.current.secondsFromGMT() / 60)
        let result = program.run(on: parsed, environment: environment)
        for line in SieveResultText.lines(result) { print(line) }
    }
}

/// The text `letterbox sieve test` prints for a result, one line per action.
enum SieveResultText {
    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\r\n", with: "\\n").replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    static func flags(_ flags: [String]) -> String {
        flags.isEmpty ? "" : " flags " + flags.joined(separator: " ")
    }

    static func lines(_ result: SieveResult) -> [String] {
        var lines: [String] = []
        if let error = result.runtimeError { lines.append("error: \(error)") }
        for action in result.actions {
            switch action {
            case .keep(let flagList): lines.append("keep" + flags(flagList))
            case .fileInto(let folder, let flagList, let create):
                lines.append("fileinto \(quoted(folder))" + (create ? " create" : "") + flags(flagList))
            case .redirect(let address): lines.append("redirect <\(address)>")
            case .reject(let reason, let extended): lines.append((extended ? "ereject " : "reject ") + quoted(reason))
            case .discard: lines.append("discard")
            case .vacation(let reply):
                lines.append("vacation to <\(reply.to)> subject \(quoted(reply.subject)) every \(reply.seconds)s"
                             + (reply.from.map { " from \(quoted($0))" } ?? "") + (reply.mime ? " mime" : "")
                             + " reason \(quoted(reply.reason))")
            }
        }
        lines.append(result.implicitKeep ? "keep (implicit)" + flags(result.implicitKeepFlags) : "no implicit keep")
        return lines
    }
}
