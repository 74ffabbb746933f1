import ArgumentParser
import Foundation
import LocalDelivery
import Logging
import NIOCore
import NIOSSL
import SMTPBackendUtilities
import SMTPCore
import SMTPServer
import Synchronization

/// `letterbox debug-server`: accepts any mail and prints each transaction — the counterpart of
/// go-smtp's debug command and of Python's old `smtpd` DebuggingServer.
struct DebugServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug-server",
        abstract: "Accept any mail and print each message with its envelope on standard output.",
        discussion: """
        For testing programs that send mail: every transaction is accepted (with --auth, only \
        after AUTH) and printed — the client, the MAIL and RCPT commands with their parameters, \
        then the message — or, with --json, written as one JSON object per line. Nothing is \
        stored. SIGTERM or SIGINT stop it.
        """
    )

    @Option(name: .long, help: "host:port to listen on (default 127.0.0.1:2525; port 0 picks one).")
    var listen: String?

    @Option(name: .long, help: "A Unix socket to listen on instead of TCP.")
    var socket: String?

    @Flag(name: .long, help: "Speak LMTP (RFC 2033) instead of SMTP.")
    var lmtp = false

    @Option(name: .long, help: "A PEM certificate chain: offers STARTTLS.")
    var tlsCert: String?

    @Option(name: .long, help: "The PEM private key of --tls-cert.")
    var tlsKey: String?

    @Option(name: .long, help: "user:password that clients must authenticate with (AUTH PLAIN or LOGIN, allowed without TLS).")
    var auth: String?

    @Flag(name: .long, help: "Write one JSON object per message instead of text.")
    var json = false

    @Option(name: .long, help: "The largest message accepted, e.g. 50M.")
    var maxMessageSize: String = "50M"

    @Option(name: .long, help: "The name in the greeting.")
    var hostname: String = "localhost"

    func validate() throws {
        if listen != nil && socket != nil { throw ValidationError("--listen and --socket exclude each other") }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if let auth, !auth.contains(":") { throw ValidationError("--auth must be user:password") }
    }

    func run() async throws {
        guard let limit = UserDirectory.size(maxMessageSize) else { throw ValidationError("bad --max-message-size") }
        var tls: NIOSSLContext?
        if let tlsCert, let tlsKey {
            let chain = try NIOSSLCertificate.fromPEMFile(tlsCert).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: tlsKey, format: .pem)
            tls = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
        }
        var credentials: (user: String, password: String)?
        if let auth, let colon = auth.firstIndex(of: ":") {
            credentials = (String(auth[..<colon]), String(auth[auth.index(after: colon)...]))
        }
        let printer = TransactionPrinter(json: json)
        let backend = ClosureBackend(
            login: credentials.map { expected in
                { @Sendable user, password, _ in
                    guard user == expected.user && password == expected.password else { throw SMTPError.authenticationFailed }
                }
            },
            requireLogin: credentials != nil,
            message: { envelope, body in
                printer.print(envelope, message: try await body.collect(upTo: limit))
            })
        let session = ServerConfiguration(lmtp: lmtp, hostname: hostname, maximumMessageBytes: limit,
                                          authDisabled: credentials == nil, allowInsecureAuth: true, startTLSAvailable: tls != nil,
                                          enableREQUIRETLS: true, enableBINARYMIME: true, enableDSN: true)
        var logger = Logger(label: "letterbox.debug-server")
        logger.logLevel = .warning
        let server = Server(backend: backend, configuration: Server.Configuration(session: session, tls: tls), logger: logger)
        let stopping = Atomic(false)
        let signals = handleSignals([SIGTERM, SIGINT]) { _ in
            stopping.store(true, ordering: .relaxed)
            server.close()
        }
        let endpoint: Server.Endpoint
        if let socket {
            endpoint = .unix(path: socket, mode: 0o666)
        } else {
            let address = try HostPort(listen ?? "127.0.0.1:2525", option: "--listen")
            endpoint = .tcp(host: address.host, port: address.port)
        }
        let bound: SocketAddress?
        do {
            bound = try await server.listen(endpoint)
        } catch Server.ListenError.alreadyRunning where stopping.load(ordering: .relaxed) {
            return
        }
        let where_ = bound.flatMap { address in address.port.map { "\(address.ipAddress ?? ""):\($0)" } } ?? socket ?? "\(endpoint)"
        FileHandle.standardError.write(Data("letterbox debug-server: \(lmtp ? "LMTP" : "SMTP") on \(where_)\n".utf8))
        try await server.run()
        for source in signals { source.cancel() }
    }
}

/// Writes transactions to standard output, one whole transaction per write so that concurrent
/// sessions never interleave.
final class TransactionPrinter: Sendable {
    let json: Bool
    private let lock = Mutex(())

    init(json: Bool) {
        self.json = json
    }

    func print(_ envelope: Envelope, message: ByteBuffer) {
        let text = json ? Self.json(envelope, message: message) : Self.text(envelope, message: message)
        lock.withLock { _ in
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }

    /// The MAIL line as the client would have sent it (SMTPCore's encoder).
    static func mailLine(_ envelope: Envelope) -> String {
        Command.mail(from: envelope.sender, options: envelope.mailOptions).line
    }

    static func rcptLines(_ envelope: Envelope) -> [String] {
        envelope.recipients.map { Command.rcpt(to: $0.address, options: $0.options).line }
    }

    static func client(_ envelope: Envelope) -> String {
        var parts = [envelope.state.remoteAddress.map(Self.describe) ?? "local"]
        if let helo = envelope.state.hostname { parts.append("helo \(helo)") }
        if let tls = envelope.state.tls { parts.append("tls \(tls.protocolVersion ?? "yes")") }
        if let user = envelope.username { parts.append("user \(user)") }
        return parts.joined(separator: ", ")
    }

    static func describe(_ address: SocketAddress) -> String {
        if let ip = address.ipAddress, let port = address.port { return "\(ip):\(port)" }
        return address.pathname ?? "\(address)"
    }

    static func text(_ envelope: Envelope, message: ByteBuffer) -> String {
        var lines = ["---------- MESSAGE FOLLOWS ----------",
                     "session: \(envelope.state.sessionID)",
                     "client: \(client(envelope))",
                     mailLine(envelope)]
        lines += rcptLines(envelope)
        lines.append("")
        var body = String(decoding: message.readableBytesView, as: UTF8.self)
        if body.hasSuffix("\r\n") { body.removeLast() }   // "\r\n" is one Character
        lines += body.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        lines.append("------------ END MESSAGE ------------")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `KEY=value` parameters after the path of a MAIL or RCPT line.
    static func parameters(_ line: String) -> [String: String] {
        guard let close = line.firstIndex(of: ">") else { return [:] }
        var result: [String: String] = [:]
        for word in line[line.index(after: close)...].split(separator: " ") {
            let pair = word.split(separator: "=", maxSplits: 1)
            result[String(pair[0])] = pair.count == 2 ? String(pair[1]) : ""
        }
        return result
    }

    struct Record: Encodable {
        struct Recipient: Encodable {
            var address: String
            var parameters: [String: String]
        }

        var session: String
        var client: String
        var helo: String?
        var tls: String?
        var user: String?
        var sender: String
        var mailParameters: [String: String]
        var recipients: [Recipient]
        var size: Int
        var message: String?
        var messageBase64: String?

        enum CodingKeys: String, CodingKey {
            case session, client, helo, tls, user, sender, recipients, size, message
            case mailParameters = "mail_parameters"
            case messageBase64 = "message_base64"
        }
    }

    static func json(_ envelope: Envelope, message: ByteBuffer) -> String {
        let bytes = Array(message.readableBytesView)
        let text = String(validating: bytes, as: UTF8.self)
        let record = Record(session: envelope.state.sessionID,
                            client: envelope.state.remoteAddress.map(describe) ?? "local",
                            helo: envelope.state.hostname,
                            tls: envelope.state.tls.map { $0.protocolVersion ?? "yes" },
                            user: envelope.username,
                            sender: envelope.sender.address?.description ?? "",
                            mailParameters: parameters(mailLine(envelope)),
                            recipients: zip(envelope.recipients, rcptLines(envelope)).map {
                                Record.Recipient(address: $0.0.address.description, parameters: parameters($0.1))
                            },
                            size: bytes.count,
                            message: text,
                            messageBase64: text == nil ? Data(bytes).base64EncodedString() : nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(record)) ?? Data("{}".utf8), as: UTF8.self) + "\n"
    }
}
