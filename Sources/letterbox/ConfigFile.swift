import ArgumentParser
import Foundation
import Maildir

/// `--config FILE`: a file of `option = value` lines naming `serve`'s long options
/// (`socket-mode = 0600`, `domain = example.org` repeated for several, `quota-tempfail = true`
/// for a flag; `#` starts a comment). One file serves every command: `serve` takes all of its
/// options, `deliver` those about delivery, `deliveries` only where the log is; the file's
/// options are placed before those of the command line, so the command line wins. A name no
/// command knows is an error, so a typo never goes unnoticed.
///
/// Without `--config`, the file named by `$LETTERBOX_CONFIG` is read, else
/// `/etc/letterbox/letterbox.conf` when it exists (as Postfix reads its `main.cf` and Dovecot
/// its `dovecot.conf` without being told), so admin commands find the agent's settings.
enum ConfigFile {
    /// The file read when neither `--config` nor `$LETTERBOX_CONFIG` names one, if it exists.
    static let defaultPath = "/etc/letterbox/letterbox.conf"

    /// The configuration file in force and why: `--config`, `$LETTERBOX_CONFIG`, or the default
    /// file when it exists; nil when there is none.
    static func location(given: String?) -> (path: String, origin: String)? {
        if let given { return (given, "--config") }
        if let named = ProcessInfo.processInfo.environment["LETTERBOX_CONFIG"], !named.isEmpty { return (named, "$LETTERBOX_CONFIG") }
        return access(defaultPath, F_OK) == 0 ? (defaultPath, "default file") : nil
    }

    /// `arguments` without their `--config FILE` (or `--config=FILE`), and that file.
    static func takeConfigOption(_ arguments: [String]) throws -> (path: String?, rest: [String]) {
        var rest = arguments
        if let index = rest.firstIndex(of: "--config") {
            guard index + 1 < rest.count else { throw ValidationError("--config needs a file") }
            let path = rest[index + 1]
            rest.removeSubrange(index...(index + 1))
            return (path, rest)
        }
        if let index = rest.firstIndex(where: { $0.hasPrefix("--config=") }) {
            let path = String(rest[index].dropFirst("--config=".count))
            rest.remove(at: index)
            return (path, rest)
        }
        return (nil, rest)
    }

    /// The entries of the file at `path`.
    static func read(_ path: String) throws -> [Entry] {
        let text: String
        do {
            text = try TextFile.contents(of: path)
        } catch {
            throw CommandFailure("cannot read the configuration file: \(path): \(describe(error))", status: CommandExit.noInput)
        }
        return try options(text, file: path)
    }

    /// Where the state is: every command that reads the file takes these.
    static let dataOptions: Set<String> = ["data-dir", "database", "user"]
    /// How mail is delivered: `serve` and `deliver`.
    static let deliveryOptions: Set<String> = [
        "mail-root", "mailbox-template", "users", "users-query", "users-cache", "domain", "hostname", "fsync", "recipient-delimiter",
        "detail-folders", "quota-tempfail", "duplicate-window", "sieve", "sieve-before", "sieve-after", "sieve-create-folders", "sieve-relay",
    ]
    /// The listener, its limits and its logging: `serve` only.
    static let serviceOptions: Set<String> = [
        "socket", "socket-mode", "tcp", "max-message-size", "max-recipients", "log-level", "log-format", "event-loops", "retention", "tmp-sweep", "metrics", "sendmail",
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

    /// The arguments with the configuration file's options that the command takes put in
    /// (``location(given:)`` says which file), `--config FILE` taken out.
    static func expand(_ arguments: [String]) throws -> [String] {
        guard let command = arguments.first, let accepted = accepted(by: command) else { return arguments }
        let (given, rest) = try takeConfigOption(Array(arguments.dropFirst()))
        guard let file = location(given: given) else { return arguments }
        let options = try read(file.path).filter { accepted.contains($0.name) }.flatMap(\.arguments)
        // `deliveries list --config F`: the file's options go after the subcommand's name.
        var expanded = rest
        let position = command == "deliveries" ? rest.prefix { !$0.hasPrefix("-") }.count : 0
        expanded.insert(contentsOf: options, at: position)
        return [command] + expanded
    }

    /// One line of the file.
    struct Entry: Equatable {
        /// The long option's name, without `--`.
        var name: String
        /// The command-line form: `--name value`, `--name` for `true`, nothing for `false`.
        var arguments: [String]
        /// The value as written.
        var value: String
        /// The line's number in the file.
        var line: Int
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
            let arguments: [String] = switch parts[1] {
            case "true": ["--" + parts[0]]
            case "false": []
            default: ["--" + parts[0], parts[1]]
            }
            result.append(Entry(name: parts[0], arguments: arguments, value: parts[1], line: number + 1))
        }
        return result
    }
}
