// A server with a null backend: it accepts every sender and recipient and reads and discards
// every message. It measures the protocol path alone, for comparison with Postfix's smtp-sink.
//
//   NullServer --unix PATH [--lmtp]
//   NullServer --tcp HOST:PORT [--lmtp]
//
// It prints "ready" once listening and serves until SIGTERM or SIGINT.
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
        // Run Swift concurrency on NIO's event loops: a connection's task then continues on the
        // thread that read its bytes instead of hopping to the global pool and back.
        if CommandLine.arguments.contains("--global-pool") == false {
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        var arguments = CommandLine.arguments.dropFirst()
        var endpoint: Server.Endpoint?
        var lmtp = false
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
            case "--global-pool":
                break
            default:
                usage()
            }
        }
        guard let endpoint else { usage() }
        var logger = Logger(label: "null-server")
        logger.logLevel = .error
        let session = ServerConfiguration(lmtp: lmtp, hostname: "null.test", maximumRecipients: 10_000,
                                          maximumMessageBytes: nil, authDisabled: true)
        let server = Server(backend: NullBackend(), configuration: Server.Configuration(session: session), logger: logger)
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
        print("usage: NullServer (--unix PATH | --tcp HOST:PORT) [--lmtp]")
        exit(64)
    }
}
