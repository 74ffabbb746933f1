import ArgumentParser
import Foundation
import NIOCore
import SMTPClient

/// `letterbox check`: is the agent answering? For monitoring and for a unit's readiness.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check that the agent answers: connect, LHLO, QUIT.",
        discussion: """
        Connects to the agent's socket (or --tcp address), reads its greeting, sends LHLO and QUIT, \
        and prints one line saying what answered. Exits 0 when the agent greeted with 220 and \
        accepted LHLO, 69 (EX_UNAVAILABLE) when it could not be reached, did not answer within \
        --timeout, or answered with anything else.
        """
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(name: .long, help: "The agent's Unix socket (default <data-dir>/lmtp.sock).")
    var socket: String?

    @Option(name: .long, help: "Check this TCP address (host:port) instead of the socket.")
    var tcp: String?

    @Option(name: .long, help: "Seconds the whole check may take.")
    var timeout: Int = 10

    func run() async throws {
        let endpoint: Client.Endpoint
        if let tcp {
            let target = try HostPort(tcp, option: "--tcp")
            endpoint = .tcp(host: target.host, port: target.port)
        } else {
            endpoint = .unix(path: socket ?? data.resolvedDataDir + "/lmtp.sock")
        }
        let name = { () -> String in
            switch endpoint {
            case .unix(let path): "unix:\(path)"
            case .tcp(let host, let port): "\(host):\(port)"
            default: "\(endpoint)"
            }
        }()
        let limit = TimeAmount.seconds(Int64(max(timeout, 1)))
        let configuration = Client.Configuration(lmtp: true, localName: ProcessInfo.processInfo.hostName,
                                                 connectTimeout: limit, commandTimeout: limit)
        let client: Client
        do {
            client = try await Client.connect(to: endpoint, configuration: configuration)
        } catch {
            throw CommandFailure("\(name): \(describe(error))", status: CommandExit.unavailable)
        }
        do {
            try await client.hello(configuration.localName)
            try? await client.quit()
            await client.close()
        } catch {
            await client.close()
            throw CommandFailure("\(name): LHLO: \(describe(error))", status: CommandExit.unavailable)
        }
        print("\(name): LMTP agent answering")
    }
}
