/// One `name=value` pair of the XCLIENT command (Postfix XCLIENT_README), with which a trusted
/// proxy passes on the real client's facts.
public struct XClientAttribute: Hashable, Sendable, CustomStringConvertible {
    /// The attribute names Postfix defines. Unknown names are a syntax error.
    public enum Name: String, Hashable, Sendable, CaseIterable {
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
    }

    /// A value, or one of the two special placeholders.
    public enum Value: Hashable, Sendable {
        /// A value, decoded from xtext.
        case value(String)
        /// `[UNAVAILABLE]`: the proxy does not know this fact.
        case unavailable
        /// `[TEMPUNAVAIL]`: the fact could not be looked up now (e.g. a DNS timeout).
        case temporarilyUnavailable
    }

    /// The attribute.
    public var name: Name
    /// Its value.
    public var value: Value

    /// Creates an attribute.
    public init(name: Name, value: Value) {
        self.name = name
        self.value = value
    }

    /// The wire form `NAME=xtext`.
    public var description: String {
        switch value {
        case .value(let text): return name.rawValue + "=" + XText.encode(text)
        case .unavailable: return name.rawValue + "=[UNAVAILABLE]"
        case .temporarilyUnavailable: return name.rawValue + "=[TEMPUNAVAIL]"
        }
    }

    /// Parses one `name=value` word, validating the value for the attributes whose syntax is
    /// fixed (addresses, ports, protocol). Returns the error reply on failure.
    static func parse(_ word: Substring) -> Result<XClientAttribute, SMTPError> {
        guard let equals = word.firstIndex(of: "="),
              let name = Name(rawValue: word[..<equals].uppercased()) else {
            return .failure(SMTPError(code: 501, enhancedCode: EnhancedCode(5, 5, 4),
                                      message: "Bad XCLIENT attribute name: \(word.prefix(64))"))
        }
        let raw = word[word.index(after: equals)...]
        let badValue = SMTPError(code: 501, enhancedCode: EnhancedCode(5, 5, 4),
                                 message: "Bad XCLIENT attribute value: \(word.prefix(64))")
        if raw == "[UNAVAILABLE]" { return .success(XClientAttribute(name: name, value: .unavailable)) }
        if raw == "[TEMPUNAVAIL]" { return .success(XClientAttribute(name: name, value: .temporarilyUnavailable)) }
        guard let decoded = XText.decode(raw), !decoded.isEmpty,
              decoded.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
            return .failure(badValue)
        }
        switch name {
        case .address, .destinationAddress:
            let valid: Bool
            if decoded.count > 5, decoded.prefix(5).uppercased() == "IPV6:" {
                valid = AddressLiteral.isIPv6(decoded.dropFirst(5))
            } else {
                valid = AddressLiteral.isIPv4(Substring(decoded))
            }
            guard valid else { return .failure(badValue) }
        case .port, .destinationPort:
            guard decoded.utf8.count <= 5, decoded.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let port = Int(decoded), port <= 65535 else { return .failure(badValue) }
        case .proto:
            guard ["SMTP", "ESMTP", "LMTP"].contains(decoded.uppercased()) else { return .failure(badValue) }
        case .name, .helo, .login:
            break
        }
        return .success(XClientAttribute(name: name, value: .value(decoded)))
    }
}
