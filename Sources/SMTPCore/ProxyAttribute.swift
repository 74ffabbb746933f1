/// One `NAME=value` word of XCLIENT or XFORWARD (Postfix XCLIENT_README, XFORWARD_README): a
/// name the command defines, and a value in xtext or one of the placeholders `[UNAVAILABLE]`
/// and `[TEMPUNAVAIL]`. ``XClientAttribute`` and ``XForwardAttribute`` are its two kinds.
public struct ProxyAttribute<AttributeName: ProxyAttributeName>: Hashable, Sendable, CustomStringConvertible {
    /// The command's attribute names.
    public typealias Name = AttributeName
    /// A value, or one of the two placeholders.
    public typealias Value = ProxyAttributeValue

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
    public var description: String { name.rawValue + "=" + value.wireForm }

    /// Parses one `NAME=value` word, checking the value against its name's syntax. Returns the
    /// error reply on failure (501 5.5.4, as Postfix).
    static func parse(_ word: Substring) -> Result<Self, SMTPError> {
        guard let equals = word.firstIndex(of: "="), let name = Name(rawValue: word[..<equals].uppercased()) else {
            return .failure(SMTPError(code: 501, enhancedCode: EnhancedCode(5, 5, 4),
                                      message: "Bad \(Name.command) attribute name: \(word.prefix(64))"))
        }
        let raw = word[word.index(after: equals)...]
        let badValue = SMTPError(code: 501, enhancedCode: EnhancedCode(5, 5, 4),
                                 message: "Bad \(Name.command) attribute value: \(word.prefix(64))")
        if raw == "[UNAVAILABLE]" { return .success(Self(name: name, value: .unavailable)) }
        if raw == "[TEMPUNAVAIL]" { return .success(Self(name: name, value: .temporarilyUnavailable)) }
        guard let decoded = XText.decode(raw), !decoded.isEmpty,
              decoded.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }),
              name.syntax.accepts(decoded) else {
            return .failure(badValue)
        }
        return .success(Self(name: name, value: .value(decoded)))
    }
}

/// The attribute names of a command like XCLIENT: the command's verb, and the syntax of each
/// name's values.
public protocol ProxyAttributeName: RawRepresentable<String>, Hashable, Sendable, CaseIterable {
    /// The command's verb, for error replies.
    static var command: String { get }
    /// What this attribute's values must look like.
    var syntax: ProxyAttributeSyntax { get }
}

/// What the value of an XCLIENT or XFORWARD attribute must look like.
public enum ProxyAttributeSyntax: Hashable, Sendable {
    /// An IPv4 address, or `IPV6:` and an IPv6 address.
    case address
    /// A TCP port, 0…65535.
    case port
    /// One of these words, in any case.
    case oneOf([String])
    /// Printable text, at most 255 octets.
    case text

    func accepts(_ decoded: String) -> Bool {
        switch self {
        case .address:
            if decoded.count > 5, decoded.prefix(5).uppercased() == "IPV6:" {
                return AddressLiteral.isIPv6(decoded.dropFirst(5))
            }
            return AddressLiteral.isIPv4(Substring(decoded))
        case .port:
            return decoded.utf8.count <= 5 && decoded.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
                && (Int(decoded) ?? 65536) <= 65535
        case .oneOf(let words):
            return words.contains(decoded.uppercased())
        case .text:
            return decoded.utf8.count <= 255
        }
    }
}

/// The value of an XCLIENT or XFORWARD attribute.
public enum ProxyAttributeValue: Hashable, Sendable {
    /// A value, decoded from xtext.
    case value(String)
    /// `[UNAVAILABLE]`: the sender does not know this fact.
    case unavailable
    /// `[TEMPUNAVAIL]`: the fact could not be looked up now (e.g. a DNS timeout).
    case temporarilyUnavailable

    /// The value as sent: xtext, or the placeholder.
    var wireForm: String {
        switch self {
        case .value(let text): return XText.encode(text)
        case .unavailable: return "[UNAVAILABLE]"
        case .temporarilyUnavailable: return "[TEMPUNAVAIL]"
        }
    }
}
