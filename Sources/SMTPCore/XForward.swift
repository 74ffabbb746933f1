/// One `name=value` pair of the XFORWARD command (Postfix XFORWARD_README), with which an MTA
/// passes on the facts of the client a message came from, for logging and trace headers. Unlike
/// XCLIENT it changes nothing about the connection itself.
public typealias XForwardAttribute = ProxyAttribute<XForwardAttributeName>

/// The attribute names of XFORWARD that Postfix defines. Unknown names are a syntax error.
public enum XForwardAttributeName: String, ProxyAttributeName {
    /// The original client's host name, as found by reverse DNS.
    case name = "NAME"
    /// The original client's IP address; IPv6 in the form `IPV6:…`.
    case address = "ADDR"
    /// The original client's TCP port.
    case port = "PORT"
    /// The protocol the message was received with (`SMTP`, `ESMTP`, or another such as `QMQP`).
    case proto = "PROTO"
    /// The HELO/EHLO argument the original client sent.
    case helo = "HELO"
    /// The queue id the MTA gave the message (Postfix's log id).
    case ident = "IDENT"
    /// `LOCAL` or `REMOTE`: whether the message was submitted on the MTA's host.
    case source = "SOURCE"

    /// `XFORWARD`.
    public static let command = "XFORWARD"

    /// Address and port as such, the source `LOCAL` or `REMOTE`, the rest text.
    public var syntax: ProxyAttributeSyntax {
        switch self {
        case .address: return .address
        case .port: return .port
        case .source: return .oneOf(["LOCAL", "REMOTE"])
        case .name, .proto, .helo, .ident: return .text
        }
    }
}

/// The client a message came from, as the MTA in front described it with XFORWARD for the
/// transaction under way; a fact is `nil` when it was not sent or was a placeholder
/// (`[UNAVAILABLE]`, `[TEMPUNAVAIL]`).
public struct ForwardedClient: Hashable, Sendable {
    /// The attributes as received, in order, later ones overriding earlier ones of the same name.
    public var attributes: [XForwardAttribute]

    /// The facts from these attributes.
    public init(attributes: [XForwardAttribute]) {
        self.attributes = attributes
    }

    /// The last value given for `name`, unless it was a placeholder.
    public subscript(_ name: XForwardAttributeName) -> String? {
        guard let last = attributes.last(where: { $0.name == name }), case .value(let text) = last.value else { return nil }
        return text
    }

    /// `NAME`: the host name.
    public var name: String? { self[.name] }
    /// `ADDR`: the IP address, without the `IPV6:` prefix.
    public var address: String? {
        self[.address].map { $0.uppercased().hasPrefix("IPV6:") ? String($0.dropFirst(5)) : $0 }
    }
    /// `PORT`.
    public var port: Int? { self[.port].flatMap { Int($0) } }
    /// `PROTO`.
    public var proto: String? { self[.proto] }
    /// `HELO`.
    public var helo: String? { self[.helo] }
    /// `IDENT`: the MTA's queue id.
    public var ident: String? { self[.ident] }
    /// `SOURCE`: whether the message was submitted locally.
    public var isLocal: Bool? { self[.source].map { $0.uppercased() == "LOCAL" } }
}
