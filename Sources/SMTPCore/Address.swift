/// A mailbox address from an SMTP envelope: `Local-part "@" ( Domain / address-literal )`
/// (RFC 5321 §4.1.2), with UTF-8 allowed in both parts (RFC 6531 §3.3).
///
/// The local part is kept in its wire form (quoted when it was quoted) so that it goes back out
/// unchanged; ``unquotedLocalPart`` gives the mailbox name a delivery agent looks up. The
/// domain is empty only for the special recipient `<Postmaster>` (RFC 5321 §4.1.1.3).
public struct Address: Hashable, Sendable, CustomStringConvertible {
    /// The local part as sent, e.g. `john.doe` or `"john doe"`.
    public var localPart: String
    /// The domain or address literal (`example.org`, `[192.0.2.1]`); empty for bare Postmaster.
    public var domain: String

    /// Creates an address from parts already known to be valid.
    public init(localPart: String, domain: String) {
        self.localPart = localPart
        self.domain = domain
    }

    /// Parses `text` as a mailbox (no angle brackets), or returns `nil`.
    public init?(_ text: String) {
        var text = text
        guard let address = text.withUTF8({ utf8 -> Address? in
            var parser = PathParser(UnsafeRawBufferPointer(utf8), lenient: false)
            guard let address = try? parser.mailbox(), parser.atEnd else { return nil }
            return address
        }) else { return nil }
        self = address
    }

    /// `localPart@domain`, or just the local part for bare Postmaster.
    public var description: String { domain.isEmpty ? localPart : localPart + "@" + domain }

    /// Whether both parts are ASCII; if not, the transaction needs SMTPUTF8 (RFC 6531 §3.4).
    public var isASCII: Bool { Self.isASCII(localPart) && Self.isASCII(domain) }

    private static func isASCII(_ text: String) -> Bool {
        let utf8 = text.utf8
        return utf8.withContiguousStorageIfAvailable { $0.allSatisfy { $0 < 0x80 } } ?? utf8.allSatisfy { $0 < 0x80 }
    }

    /// Whether this is the domain-less `<Postmaster>` recipient (RFC 5321 §4.1.1.3).
    public var isBarePostmaster: Bool { domain.isEmpty }

    /// Whether the domain is an address literal such as `[192.0.2.1]` or `[IPv6:…]`.
    public var isAddressLiteral: Bool { domain.hasPrefix("[") }

    /// The local part with quoting undone: `"john doe"` → `john doe`, `"a\"b"` → `a"b`.
    public var unquotedLocalPart: String {
        guard localPart.hasPrefix("\""), localPart.hasSuffix("\""), localPart.count >= 2 else { return localPart }
        var out = ""
        var escaped = false
        for character in localPart.dropFirst().dropLast() {
            if escaped {
                out.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// The local part in the form RFC 5321 §4.1.2 prefers: a Dot-string when the unquoted
    /// name is one, otherwise a Quoted-string with `\` and `"` escaped.
    public static func wireLocalPart(_ name: String) -> String {
        var copy = name
        let isDotString = copy.withUTF8 { utf8 in
            var parser = PathParser(UnsafeRawBufferPointer(utf8), lenient: false)
            return parser.dotString() && parser.atEnd
        }
        if !name.isEmpty, isDotString { return name }
        var out = "\""
        for character in name {
            if character == "\\" || character == "\"" { out.append("\\") }
            out.append(character)
        }
        return out + "\""
    }
}

/// The argument of `MAIL FROM`: the null path `<>` or a mailbox (RFC 5321 §4.1.1.2).
public enum ReversePath: Hashable, Sendable, CustomStringConvertible {
    /// `<>`: the message is a notification that must not be answered (RFC 5321 §4.5.5).
    case null
    /// A sender mailbox.
    case mailbox(Address)

    /// The address, or `nil` for the null path.
    public var address: Address? {
        if case .mailbox(let address) = self { return address }
        return nil
    }

    /// The mailbox as text, or the empty string for `<>` (as go-smtp passes it).
    public var description: String { address?.description ?? "" }
}

/// Why a path did not parse; the command parser turns it into 501 5.1.7 or 5.1.3.
enum PathError: Error, Hashable {
    case missingBrackets
    case syntax
}

/// A recursive-descent parser for the RFC 5321 §4.1.2 path grammar over UTF-8 bytes, which
/// it borrows: it must not outlive the buffer it was made with.
struct PathParser {
    let bytes: UnsafeRawBufferPointer
    var index: Int = 0
    /// Where the text to parse ends in `bytes` (the command parser leaves trailing blanks out).
    let end: Int
    /// Accept what Postfix accepts in practice: a mailbox without `<>` and empty atoms
    /// (`a..b`, `.a`, `a.`) in a dot-string local part.
    let lenient: Bool

    init(_ bytes: UnsafeRawBufferPointer, lenient: Bool, start: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.lenient = lenient
        self.index = start
        self.end = end ?? bytes.count
    }

    var atEnd: Bool { index >= end }

    /// The octets in `range` as text.
    func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }
    var current: UInt8? { index < end ? bytes[index] : nil }

    mutating func consume(_ byte: UInt8) -> Bool {
        guard current == byte else { return false }
        index += 1
        return true
    }

    /// ```
    /// Path = "<" [ A-d-l ":" ] Mailbox ">"
    /// Reverse-path = Path / "<>"
    /// ```
    /// Returns `nil` for `<>` when `allowNull`, and also accepts `<Postmaster>` when
    /// `allowPostmaster`.
    mutating func path(allowNull: Bool, allowPostmaster: Bool) throws(PathError) -> Address? {
        let bracketed = consume(UInt8(ascii: "<"))
        if !bracketed && !lenient { throw .missingBrackets }
        if bracketed && allowNull && consume(UInt8(ascii: ">")) { return nil }
        if bracketed && current == UInt8(ascii: "@") { try sourceRoute() }
        let start = index
        let address: Address
        if allowPostmaster, let postmaster = barePostmaster(bracketed: bracketed) {
            address = postmaster
        } else {
            index = start
            address = try mailbox()
        }
        if bracketed && !consume(UInt8(ascii: ">")) { throw .syntax }
        return address
    }

    /// `A-d-l = At-domain *( "," At-domain ) ; At-domain = "@" Domain` — accepted and ignored
    /// (RFC 5321 §4.1.2, §C).
    mutating func sourceRoute() throws(PathError) {
        repeat {
            guard consume(UInt8(ascii: "@")) else { throw .syntax }
            _ = try domain()
        } while consume(UInt8(ascii: ","))
        guard consume(UInt8(ascii: ":")) else { throw .syntax }
    }

    mutating func barePostmaster(bracketed: Bool) -> Address? {
        let name: StaticString = "postmaster"
        guard end - index >= name.utf8CodeUnitCount else { return nil }
        for offset in 0..<name.utf8CodeUnitCount where bytes[index + offset] | 0x20 != name.utf8Start[offset] {
            return nil
        }
        let nameEnd = index + name.utf8CodeUnitCount
        let terminated = bracketed ? (nameEnd < end && bytes[nameEnd] == UInt8(ascii: ">"))
                                   : (nameEnd == end || bytes[nameEnd] == UInt8(ascii: " "))
        guard terminated else { return nil }
        let spelled = text(index..<nameEnd)
        index = nameEnd
        return Address(localPart: spelled, domain: "")
    }

    /// `Mailbox = Local-part "@" ( Domain / address-literal )`
    mutating func mailbox() throws(PathError) -> Address {
        let start = index
        if current == UInt8(ascii: "\"") {
            guard quotedString() else { throw .syntax }
        } else {
            guard dotString() else { throw .syntax }
        }
        let localPart = text(start..<index)
        guard consume(UInt8(ascii: "@")) else { throw .syntax }
        let domain: String
        if current == UInt8(ascii: "[") {
            domain = try addressLiteral()
        } else {
            domain = try self.domain()
        }
        return Address(localPart: localPart, domain: domain)
    }

    /// `Dot-string = Atom *("."  Atom)`; `Atom = 1*atext` where atext includes UTF-8
    /// (RFC 6531 §3.3). Lenient mode also takes empty atoms.
    mutating func dotString() -> Bool {
        let start = index
        var atomLength = 0
        var lastWasDot = false
        while let byte = current {
            if Self.isAtext(byte) {
                atomLength += 1
                lastWasDot = false
            } else if byte == UInt8(ascii: ".") {
                if atomLength == 0 && !lenient { return false }
                atomLength = 0
                lastWasDot = true
            } else {
                break
            }
            index += 1
        }
        if index == start { return false }
        if lastWasDot && !lenient { return false }
        return true
    }

    /// `Quoted-string = DQUOTE *QcontentSMTP DQUOTE`; `qtextSMTP = %d32-33 / %d35-91 /
    /// %d93-126 / UTF8-non-ascii`; `quoted-pairSMTP = %d92 %d32-126`.
    mutating func quotedString() -> Bool {
        guard consume(UInt8(ascii: "\"")) else { return false }
        while let byte = current {
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return true
            case UInt8(ascii: "\\"):
                index += 1
                guard let escaped = current, escaped >= 32, escaped <= 126 else { return false }
                index += 1
            case 32...126, 0x80...0xFF:
                index += 1
            default:
                return false
            }
        }
        return false
    }

    /// `Domain = sub-domain *("." sub-domain)`; `sub-domain = Let-dig [Ldh-str] / U-label`.
    mutating func domain() throws(PathError) -> String {
        let start = index
        repeat {
            let labelStart = index
            while let byte = current, Self.isLetDig(byte) || byte == UInt8(ascii: "-") || byte >= 0x80 {
                index += 1
            }
            guard index > labelStart, bytes[labelStart] != UInt8(ascii: "-"),
                  bytes[index - 1] != UInt8(ascii: "-") else { throw .syntax }
        } while consume(UInt8(ascii: "."))
        return text(start..<index)
    }

    /// `address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
    /// General-address-literal ) "]"` (RFC 5321 §4.1.3).
    mutating func addressLiteral() throws(PathError) -> String {
        let start = index
        guard consume(UInt8(ascii: "[")) else { throw .syntax }
        let contentStart = index
        while let byte = current, byte != UInt8(ascii: "]") {
            // dcontent = %d33-90 / %d94-126
            guard (33...90).contains(byte) || (94...126).contains(byte) else { throw .syntax }
            index += 1
        }
        guard consume(UInt8(ascii: "]")) else { throw .syntax }
        let content = text(contentStart..<(index - 1))
        guard AddressLiteral.isValid(content) else { throw .syntax }
        return text(start..<index)
    }

    static func isLetDig(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A)
    }

    /// atext (RFC 5322 §3.2.3) plus UTF8-non-ascii (RFC 6531 §3.3).
    static func isAtext(_ byte: UInt8) -> Bool {
        if isLetDig(byte) || byte >= 0x80 { return true }
        switch byte {
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "/"),
             UInt8(ascii: "="), UInt8(ascii: "?"), UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"),
             UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}

/// Validation of the inside of an address literal (RFC 5321 §4.1.3).
enum AddressLiteral {
    static func isValid(_ content: String) -> Bool {
        if isIPv4(Substring(content)) { return true }
        if content.count > 5, content.prefix(5).lowercased() == "ipv6:" {
            return isIPv6(content.dropFirst(5))
        }
        // General-address-literal = Standardized-tag ":" 1*dcontent
        guard let colon = content.firstIndex(of: ":"), colon != content.startIndex,
              content.index(after: colon) != content.endIndex else { return false }
        return content[..<colon].utf8.allSatisfy { PathParser.isLetDig($0) || $0 == UInt8(ascii: "-") }
    }

    /// `IPv4-address-literal = Snum 3("."  Snum)`, Snum 0–255.
    static func isIPv4(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            part.count >= 1 && part.count <= 3 && part.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
                && Int(part)! <= 255
        }
    }

    /// RFC 4291 §2.2 text forms: eight groups, or fewer with one `::`, optionally ending in
    /// an IPv4 address.
    static func isIPv6(_ text: Substring) -> Bool {
        var groups = 0
        var body = Array(text.utf8)
        let colon = UInt8(ascii: ":")
        if let lastColon = body.lastIndex(of: colon), body[(lastColon + 1)...].contains(UInt8(ascii: ".")) {
            guard isIPv4(Substring(decoding: body[(lastColon + 1)...], as: UTF8.self)) else { return false }
            groups += 2
            body = Array(body[...lastColon])
            if !(body.count >= 2 && body[body.count - 2] == colon) { body.removeLast() }
        }
        var doubleColon: Int?
        if body.count >= 2 {
            for position in 0..<(body.count - 1) where body[position] == colon && body[position + 1] == colon {
                if doubleColon != nil { return false }
                doubleColon = position
            }
        }
        let halves: [ArraySlice<UInt8>]
        if let doubleColon {
            halves = [body[..<doubleColon], body[(doubleColon + 2)...]]
        } else {
            halves = [body[...]]
        }
        for half in halves where !half.isEmpty {
            for group in half.split(separator: colon, omittingEmptySubsequences: false) {
                guard group.count >= 1, group.count <= 4, group.allSatisfy({ XText.hexValue($0) != nil }) else {
                    return false
                }
                groups += 1
            }
        }
        return doubleColon != nil ? groups <= 7 : groups == 8
    }
}
