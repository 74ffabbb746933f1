import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import SASL
import Maildir
import SMTPClient
import SMTPCore

/// `letterbox send`: sends the message on standard input through any SMTP or LMTP server and
/// prints every recipient's outcome — the operator's swaks for Letterbox.
struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send the message read from standard input through an SMTP or LMTP server.",
        discussion: """
        Prints one line per recipient: its address, then the server's reply. Exit status \
        (sysexits): 0 every recipient accepted; 75 a temporary failure for at least one \
        recipient, or the server could not be reached; 69 a permanent refusal and no \
        temporary one; 64 bad arguments.
        """
    )

    @Option(name: .long, help: "host:port, [ipv6]:port, or unix:/path/to/socket.")
    var server: String

    @Flag(name: .long, help: "Speak LMTP (RFC 2033): one reply per recipient after the data.")
    var lmtp = false

    @Flag(name: .long, help: "Require STARTTLS; fail rather than send in plaintext.")
    var starttls = false

    @Flag(name: .long, help: "Never use STARTTLS, even when offered.")
    var noStarttls = false

    @Flag(name: .long, help: "TLS from the first byte (submissions, port 465).")
    var tls = false

    @Option(name: .long, help: "A PEM file of CA certificates to trust instead of the system's.")
    var caFile: String?

    @Flag(name: .long, help: "Do not verify the server's certificate.")
    var insecure = false

    @Option(name: .long, help: "User name for AUTH PLAIN.")
    var authUser: String?

    @Option(name: .long, help: "A file holding the AUTH password (its first line).")
    var authPasswordFile: String?

    @Option(name: .long, help: "Connect through a SOCKS5 proxy: socks5://user:pass@host:port.")
    var socks5: String?

    @Option(name: .long, help: "The envelope sender; empty for the null sender.")
    var from: String

    @Option(name: .long, help: "An envelope recipient (repeatable).")
    var to: [String]

    @Option(name: .long, help: "The name to give in EHLO/LHLO.")
    var helo: String = ProcessInfo.processInfo.hostName

    @Option(name: .long, help: "Seconds to wait for each reply.")
    var timeout: Int = 300

    @Flag(name: .long, help: "Print the protocol exchange on standard error (AUTH secrets hidden).")
    var trace = false

    func validate() throws {
        if to.isEmpty { throw ValidationError("at least one --to is required") }
        if starttls && (noStarttls || tls) { throw ValidationError("--starttls cannot be combined with --no-starttls or --tls") }
        if (authUser == nil) != (authPasswordFile == nil) {
            throw ValidationError("--auth-user and --auth-password-file go together")
        }
        if timeout <= 0 { throw ValidationError("--timeout must be positive") }
    }

    /// Parses `--server` into an endpoint.
    func endpoint() throws -> Client.Endpoint {
        if server.hasPrefix("unix:") {
            if socks5 != nil { throw ValidationError("--socks5 needs a host:port server") }
            return .unix(path: String(server.dropFirst(5)))
        }
        let target = try HostPort(server, option: "--server")
        let (host, port) = (target.host, target.port)
        if let socks5 {
            guard let proxy = SOCKS5Proxy(url: socks5) else { throw ValidationError("--socks5 must be socks5://[user:pass@]host:port") }
            return .socks5(proxy: proxy, host: host, port: port, tls: tls)
        }
        return tls ? .tls(host: host, port: port) : .tcp(host: host, port: port)
    }

    func run() async throws {
        let endpoint = try endpoint()
        let sender: ReversePath
        if from.isEmpty {
            sender = .null
        } else {
            guard let address = Address(from) else { throw ValidationError("--from is not a mailbox: \(from)") }
            sender = .mailbox(address)
        }
        let recipients = try to.map { text in
            guard let address = Address(text) else { throw ValidationError("--to is not a mailbox: \(text)") }
            return address
        }
        var auth: PlainClient?
        if let authUser, let authPasswordFile {
            let text: String
            do {
                text = try TextFile.contents(of: authPasswordFile)
            } catch {
                throw CommandFailure("cannot read the password file: \(authPasswordFile): \(describe(error))",
                                     status: CommandExit.noInput)
            }
            let password = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            auth = PlainClient(username: authUser, password: password)
        }
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        if let caFile { tlsConfiguration.trustRoots = .file(caFile) }
        if insecure { tlsConfiguration.certificateVerification = .none }
        var configuration = Client.Configuration(lmtp: lmtp, localName: helo, tls: tlsConfiguration)
        configuration.commandTimeout = .seconds(Int64(timeout))
        configuration.submissionTimeout = .seconds(Int64(max(timeout, 600)))
        if trace {
            configuration.trace = { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        }
        let policy: Client.TLSPolicy
        if tls || noStarttls {
            policy = .disabled
        } else if starttls {
            policy = .required
        } else if case .unix = endpoint {
            policy = .disabled
        } else {
            policy = .opportunistic
        }

        let statuses: [RecipientStatus]
        do {
            statuses = try await send(endpoint: endpoint, configuration: configuration, policy: policy, auth: auth,
                                      sender: sender, recipients: recipients)
        } catch let error as SMTPError {
            print("error: \(error.code) \(error.enhancedCode) \(error.message)")
            throw ExitCode(error.isTemporary ? 75 : 69)
        } catch SMTPClientError.allRecipientsRefused(let refused) {
            report(refused)
            throw ExitCode(refused.contains { $0.reply.isTransientFailure } ? 75 : 69)
        } catch {
            throw CommandFailure("cannot send through \(server): \(describe(error))", status: CommandExit.temporaryFailure)
        }
        report(statuses)
        if statuses.contains(where: { $0.reply.isTransientFailure }) { throw ExitCode(75) }
        if statuses.contains(where: { !$0.accepted }) { throw ExitCode(69) }
    }

    /// One session: connect, TLS, AUTH, the envelope, the message streamed from standard input.
    private func send(endpoint: Client.Endpoint, configuration: Client.Configuration, policy: Client.TLSPolicy,
                      auth: PlainClient?, sender: ReversePath, recipients: [Address]) async throws -> [RecipientStatus] {
        let client = try await Client.connect(to: endpoint, configuration: configuration)
        do {
            if policy != .disabled {
                if try await client.extension("STARTTLS") != nil {
                    try await client.startTLS()
                } else if policy == .required {
                    throw SMTPClientError.tlsRequired
                }
            }
            if let auth { try await client.auth(auth) }
            let (writer, rcpt) = try await client.beginMessage(from: sender, to: recipients)
            for try await chunk in StandardInput() {
                try await writer.write(chunk)
            }
            let final = try await writer.finishWithStatuses()
            try? await client.quit()
            await client.close()
            var outcome: [Address: RecipientStatus] = [:]
            for status in final where outcome[status.recipient] == nil { outcome[status.recipient] = status }
            return rcpt.map { $0.accepted ? (outcome[$0.recipient] ?? $0) : $0 }
        } catch {
            await client.close()
            throw error
        }
    }

    private func report(_ statuses: [RecipientStatus]) {
        for status in statuses {
            print("\(status.recipient): \(status.reply.description.replacingOccurrences(of: "\r\n", with: " / "))")
        }
    }
}
