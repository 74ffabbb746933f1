import ArgumentParser

/// `letterbox`: the local LMTP delivery agent's command line.
@main
struct LetterboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "letterbox",
        abstract: "Letterbox: SMTP/LMTP tools and a local LMTP delivery agent.",
        subcommands: [ServeCommand.self, DeliverCommand.self, DeliveriesCommand.self, SendCommand.self, DebugServerCommand.self]
    )

    /// Expands `--config FILE` before parsing (see ``ConfigFile``).
    static func main() async {
        let arguments: [String]
        do {
            arguments = try ConfigFile.expand(Array(CommandLine.arguments.dropFirst()))
        } catch {
            exit(withError: error)
        }
        await main(arguments)
    }
}
