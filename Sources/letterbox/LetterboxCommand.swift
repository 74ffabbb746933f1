import ArgumentParser
import SMTPCore

/// `letterbox`: the local LMTP delivery agent's command line.
@main
struct LetterboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "letterbox",
        abstract: "Letterbox: SMTP/LMTP tools and a local LMTP delivery agent.",
        version: PackageVersion.current,
        subcommands: [ServeCommand.self, DeliverCommand.self, DeliveriesCommand.self, SendCommand.self, DebugServerCommand.self]
    )

    /// Expands `--config FILE` before parsing (see ``ConfigFile``), runs the command, and
    /// ends as ``CommandExit`` says when it throws.
    static func main() async {
        let given = Array(CommandLine.arguments.dropFirst())
        let command = given.first.flatMap { name in
            configuration.subcommands.contains { $0.configuration.commandName == name } ? name : nil
        }
        do {
            var parsed = try parseAsRoot(try ConfigFile.expand(given))
            if var asynchronous = parsed as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try parsed.run()
            }
        } catch {
            CommandExit.exit(with: error, command: command)
        }
    }
}
