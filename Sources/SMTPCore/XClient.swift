/// One `name=value` pair of the XCLIENT command (Postfix XCLIENT_README), with which a trusted
/// proxy passes on the real client's facts.
public typealias XClientAttribute = ProxyAttribute<XClientAttributeName>

/// The attribute names of XCLIENT that Postfix defines. Unknown names are a syntax error.
public enum XClientAttributeName: String, ProxyAttributeName {
    /// The client's host name, as found by reverse DNS.
    case name = "NAME"
    /// The client's IP address; IPv6 in the form `IPV6:…`.
    case address = "ADDR"
    /// The client's TCP port.
    case port = "PORT"
    /// `SMTP` or `ESMTP`: how the client greeted.
    case proto = "PROTO"
    /// The HELO/EHLO argument the client sent.
    case helo = "HELO"
    /// The SASL login name the client authenticated as.
    case login = "LOGIN"
    /// The server-side IP address the client connected to.
    case destinationAddress = "DESTADDR"
    /// The server-side TCP port the client connected to.
    case destinationPort = "DESTPORT"

    /// `XCLIENT`.
    public static let command = "XCLIENT"

    /// Addresses and ports as such, the protocol one of `SMTP`, `ESMTP`, `LMTP`, the rest text.
    public var syntax: ProxyAttributeSyntax {
        switch self {
        case .address, .destinationAddress: return .address
        case .port, .destinationPort: return .port
        case .proto: return .oneOf(["SMTP", "ESMTP", "LMTP"])
        case .name, .helo, .login: return .text
        }
    }
}
