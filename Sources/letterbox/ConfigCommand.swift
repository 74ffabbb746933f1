import ArgumentParser
import Foundation

/// `letterbox config`: the settings `serve` would run with, and where each comes from, like
/// Postfix's `postconf -n` and Dovecot's `doveconf -n`.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print the settings serve would run with and where each comes from.",
        discussion: """
        Reads the configuration file as serve does (--config, else $LETTERBOX_CONFIG, else \
        /etc/letterbox/letterbox.conf when it exists), applies any serve options given after it, \
        checks the result as serve would, and prints one `name = value` line per setting, with \
        where it came from: the file and its line, the command line, the environment, or the \
        default. The output is itself a valid configuration file.
        """
    )

    @Flag(name: .customShort("n"), help: "Only the settings that are not at their default.")
    var changedOnly = false

    @Argument(parsing: .captureForPassthrough, help: "serve's options (--config FILE among them), as serve would be given them.")
    var options: [String] = []

    /// What `--help`'s JSON says of one option of `serve`.
    private struct HelpArgument: Decodable {
        struct Name: Decodable { var kind: String; var name: String }
        var kind: String
        var names: [Name]?
        var defaultValue: String?
    }

    private struct Help: Decodable {
        struct Command: Decodable { var arguments: [HelpArgument]? }
        var command: Command
    }

    func run() throws {
        let (given, commandLine) = try ConfigFile.takeConfigOption(options)
        let file = ConfigFile.location(given: given)
        let entries = try file.map { try ConfigFile.read($0.path) } ?? []
        // Checked as serve checks it: a value serve would refuse is refused here.
        let serve = try ServeCommand.parse(entries.flatMap(\.arguments) + commandLine)

        let help = try JSONDecoder().decode(Help.self, from: Data(ServeCommand._dumpHelp().utf8))
        let known = ConfigFile.dataOptions.union(ConfigFile.deliveryOptions).union(ConfigFile.serviceOptions)
        var flags: Set<String> = []
        var defaults: [String: String] = [:]
        var order: [String] = []
        for argument in help.command.arguments ?? [] {
            guard let name = argument.names?.first(where: { $0.kind == "long" })?.name, known.contains(name) else { continue }
            order.append(name)
            if argument.kind == "flag" { flags.insert(name) }
            defaults[name] = argument.kind == "flag" ? "false" : argument.defaultValue
        }
        // What serve works out when an option is not given.
        let environment = ProcessInfo.processInfo.environment
        let dataDir = serve.data.resolvedDataDir
        defaults["data-dir"] = dataDir
        defaults["database"] = serve.data.resolvedDatabase
        defaults["socket"] = dataDir + "/lmtp.sock"
        defaults["mail-root"] = dataDir + "/mail"

        var lines: [(setting: String, origin: String)] = []
        let fromCommandLine = Self.values(commandLine, flags: flags)
        for name in order {
            if let values = fromCommandLine[name] {
                lines += values.map { ("\(name) = \($0)", "command line") }
            } else if case let fromFile = entries.filter({ $0.name == name }), !fromFile.isEmpty, let file {
                lines += fromFile.map { ("\(name) = \($0.value)", "\(file.path):\($0.line)") }
            } else if name == "data-dir", serve.data.dataDir == nil, environment["LETTERBOX_DATA_DIR"] != nil {
                lines.append(("\(name) = \(dataDir)", "$LETTERBOX_DATA_DIR"))
            } else if !changedOnly, let value = defaults[name] {
                lines.append(("\(name) = \(value)", "default"))
            } else if !changedOnly {
                lines.append(("# \(name) is not set", "default"))
            }
        }
        if let file { print("# configuration file: \(file.path) (\(file.origin))") } else { print("# no configuration file") }
        let width = lines.map(\.setting.count).max() ?? 0
        for (setting, origin) in lines {
            print(setting.padding(toLength: width, withPad: " ", startingAt: 0) + "  # " + origin)
        }
    }

    /// The long options on a command line, each with its values in order (`true` for a flag).
    static func values(_ arguments: [String], flags: Set<String>) -> [String: [String]] {
        var result: [String: [String]] = [:]
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            guard word.hasPrefix("--") else { continue }
            let body = word.dropFirst(2)
            if let equals = body.firstIndex(of: "=") {
                result[String(body[..<equals]), default: []].append(String(body[body.index(after: equals)...]))
            } else if flags.contains(String(body)) {
                result[String(body), default: []].append("true")
            } else if index < arguments.count {
                result[String(body), default: []].append(arguments[index])
                index += 1
            }
        }
        return result
    }
}
