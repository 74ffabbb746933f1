// A server with a null backend: it accepts every sender and recipient and reads and discards
// every message. It measures the protocol path alone, for comparison with Postfix's smtp-sink.
//
//   NullServer (--unix PATH | --tcp HOST:PORT) [--lmtp] [--threads N] [--connection-executor global] [--no-timeouts]
//
// It prints "ready" once listening and serves until SIGTERM or SIGINT. By default it serves
// every connection from one event-loop thread, each connection's task running on that loop
// (the server's default executor preference): on two cores, with the load generator on the
// other, one loop thread measured faster than two (see docs/performance.md).
import Dispatch
import Logging
import NIOCore
import NIOPosix
import SMTPCore
import SMTPServer

#if canImport(Glibc)
import Glibc
#endif

final class NullSession: Session, LMTPSession {
    func reset() async {}
    func logout() async {}
    func mail(from: ReversePath, options: MailOptions) async throws {}
    func rcpt(to: Address, options: RcptOptions) async throws {}
    func data(_ body: MessageBody) async throws {
        for try await _ in body {}
    }
    func lmtpData(_ body: MessageBody, status: StatusCollector) async throws {
        for try await _ in body {}
    }
}

struct NullBackend: Backend {
    func anonymousLogin(state: ConnectionState, sessionID: String) async throws -> any Session { NullSession() }
}

@main
struct NullServer {
    static func main() async throws {
        var arguments = CommandLine.arguments.dropFirst()
        var endpoint: Server.Endpoint?
        var lmtp = false
        var threads = 1
        var executor = Server.ConnectionExecutor.eventLoop
        var timeouts = true
        while let argument = arguments.popFirst() {
            switch argument {
            case "--unix":
                guard let path = arguments.popFirst() else { usage() }
                endpoint = .unix(path: path, mode: 0o666)
            case "--tcp":
                guard let value = arguments.popFirst(), let colon = value.lastIndex(of: ":"),
                      let port = Int(value[value.index(after: colon)...]) else { usage() }
                endpoint = .tcp(host: String(value[..<colon]), port: port)
            case "--lmtp":
                lmtp = true
            case "--threads":
                guard let value = arguments.popFirst(), let count = Int(value), count > 0 else { usage() }
                threads = count
            case "--no-timeouts":
                timeouts = false
            case "--connection-executor":
                switch arguments.popFirst() {
                case "global": executor = .globalConcurrent
                case "event-loop": executor = .eventLoop
                default: usage()
                }
            default:
                usage()
            }
        }
        guard let endpoint else { usage() }
        var logger = Logger(label: "null-server")
        logger.logLevel = .error
        let session = ServerConfiguration(lmtp: lmtp, hostname: "null.test", maximumRecipients: 10_000,
                                          maximumMessageBytes: nil, authDisabled: true)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        var configuration = Server.Configuration(session: session, connectionExecutor: executor)
        if !timeouts {
            configuration.readTimeout = nil
            configuration.writeTimeout = nil
        }
        let server = Server(backend: NullBackend(), configuration: configuration, logger: logger, eventLoopGroup: group)
        try await server.listen(endpoint)
        let signals = [SIGTERM, SIGINT].map { number -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { @Sendable in server.close() }
            source.resume()
            return source
        }
        print("ready")
        fflush(nil)
        try await server.run()
        // The signal sources must outlive the server, or the optimiser releases (and cancels) them.
        for source in signals { source.cancel() }
    }

    static func usage() -> Never {
        print("usage: NullServer (--unix PATH | --tcp HOST:PORT) [--lmtp] [--threads N] [--connection-executor event-loop|global] [--no-timeouts]")
        exit(64)
    }
}
