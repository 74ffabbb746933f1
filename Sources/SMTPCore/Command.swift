import NIOCore

/// A command from an SMTP or LMTP client (RFC 5321 §4.1.1, RFC 2033 §4.1, and the extensions).
///
/// ``CommandParser`` turns a line into a `Command`; ``write(to:)`` turns a `Command` into its
/// line, so the server and the client share one grammar.
public enum Command: Hashable, Sendable {
    /// `HELO domain` (RFC 5321 §4.1.1.1).
    case helo(domain: String)
    /// `EHLO domain` (RFC 5321 §4.1.1.1).
    case ehlo(domain: String)
    /// `LHLO domain`, LMTP's EHLO (RFC 2033 §4.1).
    case lhlo(domain: String)
    /// `MAIL FROM:<reverse-path> [params]` (RFC 5321 §4.1.1.2).
    case mail(from: ReversePath, options: MailOptions)
    /// `RCPT TO:<forward-path> [params]` (RFC 5321 §4.1.1.3).
    case rcpt(to: Address, options: RcptOptions)
    /// `DATA` (RFC 5321 §4.1.1.4).
    case data
    /// `BDAT chunk-size [LAST]` (RFC 3030 §2).
    case bdat(size: Int, last: Bool)
    /// `RSET` (RFC 5321 §4.1.1.5).
    case rset
    /// `VRFY string` (RFC 5321 §4.1.1.6).
    case vrfy(String)
    /// `EXPN string` (RFC 5321 §4.1.1.7).
    case expn(String)
    /// `HELP [string]` (RFC 5321 §4.1.1.8).
    case help(String?)
    /// `NOOP [string]` (RFC 5321 §4.1.1.9).
    case noop(String?)
    /// `QUIT` (RFC 5321 §4.1.1.10).
    case quit
    /// `AUTH mechanism [initial-response]` (RFC 4954 §4); the response is decoded from base64,
    /// and `=` (an empty initial response) is an empty array.
    case auth(mechanism: String, initialResponse: [UInt8]?)
    /// `STARTTLS` (RFC 3207 §4).
    case startTLS
    /// `XCLIENT attribute=value …` (Postfix XCLIENT_README).
    case xclient([XClientAttribute])
    /// `XFORWARD attribute=value …` (Postfix XFORWARD_README).
    case xforward([XForwardAttribute])

    /// The verbs, for replies and for deciding what a malformed line was meant to be.
    public enum Verb: String, Hashable, Sendable, CaseIterable {
        case helo = "HELO", ehlo = "EHLO", lhlo = "LHLO", mail = "MAIL", rcpt = "RCPT", data = "DATA"
        case bdat = "BDAT", rset = "RSET", vrfy = "VRFY", expn = "EXPN", help = "HELP", noop = "NOOP"
        case quit = "QUIT", auth = "AUTH", startTLS = "STARTTLS", xclient = "XCLIENT"
        case xforward = "XFORWARD"
    }

    // Verbs are compared as their octets upper-cased and packed into one integer: no string is
    // made for the verb of every command line.
    fileprivate static let packedVerbs: [(UInt64, Verb)] = Verb.allCases.map { (pack($0.rawValue.utf8[...]), $0) }

    fileprivate static func pack<Octets: Collection<UInt8>>(_ octets: Octets) -> UInt64 {
        var packed: UInt64 = 0
        for octet in octets {
            packed = packed << 8 | UInt64((octet >= 0x61 && octet <= 0x7A) ? octet - 0x20 : octet)
        }
        return packed
    }

    /// This command's verb.
    public var verb: Verb {
        switch self {
        case .helo: return .helo
        case .ehlo: return .ehlo
        case .lhlo: return .lhlo
        case .mail: return .mail
        case .rcpt: return .rcpt
        case .data: return .data
        case .bdat: return .bdat
        case .rset: return .rset
        case .vrfy: return .vrfy
        case .expn: return .expn
        case .help: return .help
        case .noop: return .noop
        case .quit: return .quit
        case .auth: return .auth
        case .startTLS: return .startTLS
        case .xclient: return .xclient
        case .xforward: return .xforward
        }
    }

    /// The command line without CRLF, parameters in a fixed order.
    public var line: String {
        switch self {
        case .helo(let domain): return "HELO " + domain
        case .ehlo(let domain): return "EHLO " + domain
        case .lhlo(let domain): return "LHLO " + domain
        case .mail(let from, let options):
            return (["MAIL FROM:<\(from)>"] + ESMTPParameters.encode(options)).joined(separator: " ")
        case .rcpt(let to, let options):
            return (["RCPT TO:<\(to)>"] + ESMTPParameters.encode(options)).joined(separator: " ")
        case .data: return "DATA"
        case .bdat(let size, let last): return "BDAT \(size)" + (last ? " LAST" : "")
        case .rset: return "RSET"
        case .vrfy(let argument): return "VRFY " + argument
        case .expn(let argument): return "EXPN " + argument
        case .help(let argument): return argument.map { "HELP " + $0 } ?? "HELP"
        case .noop(let argument): return argument.map { "NOOP " + $0 } ?? "NOOP"
        case .quit: return "QUIT"
        case .auth(let mechanism, let response):
            guard let response else { return "AUTH " + mechanism }
            return "AUTH " + mechanism + " " + (response.isEmpty ? "=" : Base64.encode(response))
        case .startTLS: return "STARTTLS"
        case .xclient(let attributes):
            return (["XCLIENT"] + attributes.map(\.description)).joined(separator: " ")
        case .xforward(let attributes):
            return (["XFORWARD"] + attributes.map(\.description)).joined(separator: " ")
        }
    }

    /// Appends the command line and its CRLF to `buffer`.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeString(line)
        buffer.writeStaticString("\r\n")
    }
}

extension Command.Verb {
    /// The verb spelled by `octets` in any case (RFC 5321 §2.4), or `nil` for none.
    public init?(folding octets: some Collection<UInt8>) {
        guard octets.count >= 4, octets.count <= 8 else { return nil }
        let packed = Command.pack(octets)
        guard let match = Command.packedVerbs.first(where: { $0.0 == packed }) else { return nil }
        self = match.1
    }
}
