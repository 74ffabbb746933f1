import ArgumentParser

/// `letterbox`: the local LMTP delivery agent's command line.
@main
struct LetterboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "letterbox",
        abstract: "Letterbox: SMTP/LMTP tools and a local LMTP delivery agent.",
        subcommands: [ServeCommand.self, DeliverCommand.self, DeliveriesCommand.self, SendCommand.self]
    )
}
