import ArgumentParser
import SMTPCore
import SMTPServer

/// `letterbox`: the local LMTP delivery agent's command line.
@main
struct LetterboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "letterbox",
        abstract: "Letterbox: SMTP/LMTP tools and a local LMTP delivery agent.",
        version: PackageVersion.current,
        subcommands: [ServeCommand.self, DeliverCommand.self, DeliveriesCommand.self, CheckCommand.self, ConfigCommand.self, SendCommand.self,
                      SieveCommand.self, DebugServerCommand.self]
    )

    /// Expands `--config FILE` before parsing (see ``ConfigFile``), runs the command, and
    /// ends as ``CommandExit`` says when it throws.
    static func main() async {
        let given = Array(CommandLine.arguments.dropFirst())
        // The command as errors name it: `serve`, or `deliveries show` for a nested one.
        let command = given.first.flatMap { name -> String? in
            guard let type = configuration.subcommands.first(where: { $0.configuration.commandName == name }) else { return nil }
            let nested = given.dropFirst().first.flatMap { word in
                type.configuration.subcommands.first { $0._commandName == word }.map { _ in word }
            }
            return nested.map { name + " " + $0 } ?? name
        }
        do {
            var parsed = try parseAsRoot(try ConfigFile.expand(given))
            do {
                if var asynchronous = parsed as? any AsyncParsableCommand {
                    try await asynchronous.run()
                } else {
                    try parsed.run()
                }
            } catch let error as CommandFailure {
                throw error
            } catch let error where error is ExitCode || error is CleanExit || error is ValidationError
                                        || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
                throw error   // ArgumentParser's own (`config` parses serve's options)
            } catch let error as Server.ListenError {
                throw ServeCommand.listenFailure(error)
            } catch {
                // A failure no command turned into its own message: still one line, with the
                // system's words for it, never a debug description (EX_SOFTWARE).
                throw CommandFailure(describe(error), status: 70)
            }
        } catch {
            CommandExit.exit(with: error, command: command)
        }
    }
}
