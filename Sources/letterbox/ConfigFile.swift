import ArgumentParser
import Foundation
import Maildir

/// `--config FILE`: a file of `option = value` lines naming `serve`'s long options
/// (`socket-mode = 0600`, `domain = example.org` repeated for several, `quota-tempfail = true`
/// for a flag; `#` starts a comment). One file serves every command: `serve` takes all of its
/// options, `deliver` those about delivery, `deliveries` only where the log is; the file's
/// options are placed before those of the command line, so the command line wins. A name no
/// command knows is an error, so a typo never goes unnoticed.
enum ConfigFile {
    /// Where the state is: every command that reads the file takes these.
    static let dataOptions: Set<String> = ["data-dir", "database"]
    /// How mail is delivered: `serve` and `deliver`.
    static let deliveryOptions: Set<String> = [
        "mail-root", "mailbox-template", "users", "users-query", "users-cache", "domain", "hostname", "fsync", "recipient-delimiter",
        "detail-folders", "quota-tempfail", "duplicate-window",
    ]
    /// The listener, its limits and its logging: `serve` only.
    static let serviceOptions: Set<String> = [
        "socket", "socket-mode", "tcp", "max-message-size", "max-recipients", "log-level", "log-format", "event-loops",
    ]

    /// The options a command (`serve`, `deliver`, `deliveries …`) takes from the file, or nil
    /// for commands that take no `--config`.
    static func accepted(by command: String) -> Set<String>? {
        switch command {
        case "serve": dataOptions.union(deliveryOptions).union(serviceOptions)
        case "deliver": dataOptions.union(deliveryOptions)
        case "deliveries": dataOptions
        case "check": dataOptions.union(["socket"])
        default: nil
        }
    }

    /// The arguments with `--config FILE` replaced by the options of the file that the command
    /// takes.
    static func expand(_ arguments: [String]) throws -> [String] {
        guard let command = arguments.first, let accepted = accepted(by: command) else { return arguments }
        var rest = Array(arguments.dropFirst())
        var path: String?
        if let index = rest.firstIndex(of: "--config") {
            guard index + 1 < rest.count else { throw ValidationError("--config needs a file") }
            path = rest[index + 1]
            rest.removeSubrange(index...(index + 1))
        } else if let index = rest.firstIndex(where: { $0.hasPrefix("--config=") }) {
            path = String(rest[index].dropFirst("--config=".count))
            rest.remove(at: index)
        }
        guard let path else { return arguments }
        let text: String
        do {
            text = try TextFile.contents(of: path)
        } catch {
            throw CommandFailure("cannot read the configuration file: \(path): \(describe(error))", status: CommandExit.noInput)
        }
        let options = try options(text, file: path).filter { accepted.contains($0.name) }.flatMap(\.arguments)
        // `deliveries list --config F`: the file's options go after the subcommand's name.
        let position = command == "deliveries" ? rest.prefix { !$0.hasPrefix("-") }.count : 0
        rest.insert(contentsOf: options, at: position)
        return [command] + rest
    }

    /// One line of the file.
    struct Entry: Equatable {
        /// The long option's name, without `--`.
        var name: String
        /// The command-line form: `--name value`, `--name` for `true`, nothing for `false`.
        var arguments: [String]
    }

    /// The file's lines as command-line options; names that no command takes are refused.
    static func options(_ text: String, file: String) throws -> [Entry] {
        let known = dataOptions.union(deliveryOptions).union(serviceOptions)
        var result: [Entry] = []
        for (number, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = (rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                .trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else {
                throw CommandFailure("bad configuration file: \(file):\(number + 1): expected `option = value`",
                                     status: CommandExit.configuration)
            }
            guard known.contains(parts[0]) else {
                throw CommandFailure("bad configuration file: \(file):\(number + 1): unknown option `\(parts[0])`",
                                     status: CommandExit.configuration)
            }
            switch parts[1] {
            case "true": result.append(Entry(name: parts[0], arguments: ["--" + parts[0]]))
            case "false": result.append(Entry(name: parts[0], arguments: []))
            default: result.append(Entry(name: parts[0], arguments: ["--" + parts[0], parts[1]]))
            }
        }
        return result
    }
}
