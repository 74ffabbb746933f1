import NIOCore

/// A command line that could not be parsed, with the reply it deserves.
public struct CommandParseError: Error, Hashable, Sendable {
    /// The verb, when the line began with a known one; `nil` for an unrecognised command.
    public var verb: Command.Verb?
    /// The reply to send (500/501/504/555 with the RFC 3463 code that fits).
    public var error: SMTPError

    /// Creates a parse error.
    public init(verb: Command.Verb?, error: SMTPError) {
        self.verb = verb
        self.error = error
    }
}

/// Parses command lines (without their CRLF) into ``Command`` values.
///
/// Verbs are case-insensitive (RFC 5321 §2.4). CR, LF and NUL are never accepted inside a line
/// (RFC 5321 §2.3.8; a bare LF inside a command is how command smuggling starts).
public struct CommandParser: Sendable {
    /// Whether `MAIL FROM:` and `RCPT TO:` must use angle brackets (go-smtp's `Strict`).
    /// When `false`, `MAIL FROM: user@example.org` is accepted as Postfix does by default.
    public var strict: Bool

    /// Creates a parser.
    public init(strict: Bool = false) {
        self.strict = strict
    }

    private static func error(_ verb: Command.Verb?, _ code: Int, _ enhanced: EnhancedCode, _ text: String) -> CommandParseError {
        CommandParseError(verb: verb, error: SMTPError(code: code, enhancedCode: enhanced, message: text))
    }

    private static func syntax(_ verb: Command.Verb, _ usage: String) -> CommandParseError {
        error(verb, 501, EnhancedCode(5, 5, 4), "Syntax: " + usage)
    }

    /// The reply to an unrecognised verb (RFC 5321 §4.2.4: 500; RFC 3463 X.5.2).
    public static let unrecognized = SMTPError(code: 500, enhancedCode: EnhancedCode(5, 5, 2),
                                               message: "Error: command not recognized")

    /// Parses one line held in a buffer (read in place, not copied).
    public func parse(_ line: ByteBuffer) throws(CommandParseError) -> Command {
        try line.withUnsafeReadableBytes { bytes in
            Result { () throws(CommandParseError) in try parse(octets: bytes) }
        }.get()
    }

    /// Parses one line given as text.
    public func parse(_ line: String) throws(CommandParseError) -> Command {
        var line = line
        return try line.withUTF8 { utf8 in
            Result { () throws(CommandParseError) in try parse(octets: UnsafeRawBufferPointer(utf8)) }
        }.get()
    }

    /// Parses one line given as bytes.
    public func parse(_ bytes: [UInt8]) throws(CommandParseError) -> Command {
        try bytes.withUnsafeBytes { bytes in
            Result { () throws(CommandParseError) in try parse(octets: bytes) }
        }.get()
    }

    /// The line is read as octets: the verb is matched without making a string, and strings
    /// are made only for the values a command carries.
    private func parse(octets bytes: UnsafeRawBufferPointer) throws(CommandParseError) -> Command {
        // The verb: letters up to the first space.
        var verbEnd = 0
        while verbEnd < bytes.count, bytes[verbEnd] != UInt8(ascii: " ") { verbEnd += 1 }
        guard let verb = Command.Verb(folding: UnsafeRawBufferPointer(rebasing: bytes[..<verbEnd])) else {
            throw CommandParseError(verb: nil, error: Self.unrecognized)
        }
        var ascii = true
        for byte in bytes {
            if byte == 0x0D || byte == 0x0A || byte == 0x00 {
                throw Self.error(verb, 501, EnhancedCode(5, 5, 2), "Syntax error: CR, LF or NUL in command")
            }
            if byte >= 0x80 { ascii = false }
        }
        if !ascii, String(validating: bytes, as: UTF8.self) == nil {
            throw Self.error(verb, 501, EnhancedCode(5, 5, 2), "Syntax error: command is not valid UTF-8")
        }
        // The argument, with the single separating space (and stray trailing blanks) removed.
        let start = min(verbEnd + 1, bytes.count)
        var end = bytes.count
        while end > start, bytes[end - 1] == UInt8(ascii: " ") || bytes[end - 1] == UInt8(ascii: "\t") { end -= 1 }
        let hasArgument = end > start
        /// The argument from its first non-space octet, as text.
        func value() -> String {
            var first = start
            while first < end, bytes[first] == UInt8(ascii: " ") { first += 1 }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[first..<end]), as: UTF8.self)
        }
        /// The whole argument as text, for the commands parsed word by word.
        func argument() -> Substring {
            Substring(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self))
        }

        switch verb {
        case .helo, .ehlo, .lhlo:
            let domain = value()
            guard !domain.isEmpty else { throw Self.syntax(verb, "\(verb.rawValue) hostname") }
            switch verb {
            case .helo: return .helo(domain: domain)
            case .ehlo: return .ehlo(domain: domain)
            default: return .lhlo(domain: domain)
            }
        case .mail:
            return try parseMail(bytes, start, end)
        case .rcpt:
            return try parseRcpt(bytes, start, end)
        case .data:
            guard !hasArgument else { throw Self.syntax(verb, "DATA") }
            return .data
        case .bdat:
            return try parseBDAT(argument())
        case .rset:
            guard !hasArgument else { throw Self.syntax(verb, "RSET") }
            return .rset
        case .quit:
            guard !hasArgument else { throw Self.syntax(verb, "QUIT") }
            return .quit
        case .startTLS:
            guard !hasArgument else { throw Self.syntax(verb, "STARTTLS") }
            return .startTLS
        case .vrfy, .expn:
            let address = value()
            guard !address.isEmpty else { throw Self.syntax(verb, "\(verb.rawValue) address") }
            return verb == .vrfy ? .vrfy(address) : .expn(address)
        case .help:
            return .help(hasArgument ? value() : nil)
        case .noop:
            return .noop(hasArgument ? value() : nil)
        case .auth:
            return try parseAuth(argument())
        case .xclient:
            return .xclient(try Self.parseAttributes(argument(), verb: verb))
        case .xforward:
            return .xforward(try Self.parseAttributes(argument(), verb: verb))
        }
    }

    /// The `NAME=value` words of XCLIENT or XFORWARD, at least one.
    private static func parseAttributes<Name>(_ text: Substring, verb: Command.Verb) throws(CommandParseError) -> [ProxyAttribute<Name>] {
        let words = text.split(separator: " ")
        guard !words.isEmpty else { throw Self.syntax(verb, "\(Name.command) attribute=value ...") }
        var attributes: [ProxyAttribute<Name>] = []
        for word in words {
            switch ProxyAttribute<Name>.parse(word) {
            case .success(let attribute): attributes.append(attribute)
            case .failure(let error): throw CommandParseError(verb: verb, error: error)
            }
        }
        return attributes
    }

    /// `"MAIL FROM:" Reverse-path [SP Mail-parameters]`, the argument being `bytes[start..<end]`.
    private func parseMail(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) throws(CommandParseError) -> Command {
        let (address, words) = try parsePath(bytes, start, end, verb: .mail, keyword: "FROM:", usage: "MAIL FROM:<address>",
                                             addressError: EnhancedCode(5, 1, 7), role: "sender")
        do {
            return .mail(from: address.map(ReversePath.mailbox) ?? .null, options: try ESMTPParameters.parseMail(words))
        } catch {
            throw CommandParseError(verb: .mail, error: error)
        }
    }

    /// `"RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path ) [SP Rcpt-parameters]`
    private func parseRcpt(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) throws(CommandParseError) -> Command {
        let (parsed, words) = try parsePath(bytes, start, end, verb: .rcpt, keyword: "TO:", usage: "RCPT TO:<address>",
                                            addressError: EnhancedCode(5, 1, 3), role: "recipient")
        guard let address = parsed else {
            throw Self.error(.rcpt, 501, EnhancedCode(5, 1, 3), "Bad recipient address syntax")
        }
        do {
            return .rcpt(to: address, options: try ESMTPParameters.parseRcpt(words))
        } catch {
            throw CommandParseError(verb: .rcpt, error: error)
        }
    }

    /// The path after `keyword` in `bytes[start..<end]` (`nil` for `<>`, which only MAIL allows)
    /// and the parameter words after it. Path errors are `501` with `addressError` (X.1.7
    /// sender, X.1.3 recipient).
    private func parsePath(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int, verb: Command.Verb, keyword: StaticString,
                           usage: String, addressError: EnhancedCode,
                           role: String) throws(CommandParseError) -> (Address?, [Substring]) {
        guard let pathStart = Self.afterKeyword(keyword, in: bytes, start, end) else { throw Self.syntax(verb, usage) }
        var parser = PathParser(bytes, lenient: !strict, start: pathStart, end: end)
        let address: Address?
        do {
            address = try parser.path(allowNull: verb == .mail, allowPostmaster: verb == .rcpt)
        } catch {
            throw Self.error(verb, 501, addressError, error == .missingBrackets
                ? "Bad \(role) address syntax: use \(usage)" : "Bad \(role) address syntax")
        }
        guard parser.index < end else { return (address, []) }
        guard bytes[parser.index] == UInt8(ascii: " ") else {
            throw Self.error(verb, 501, addressError, "Bad \(role) address syntax")
        }
        return (address, Substring(decoding: UnsafeRawBufferPointer(rebasing: bytes[parser.index..<end]), as: UTF8.self).split(separator: " "))
    }

    /// The offset just after `keyword` (matched case-insensitively at `start`) and any spaces
    /// after it, within `bytes[start..<end]`.
    private static func afterKeyword(_ keyword: StaticString, in bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int? {
        let count = keyword.utf8CodeUnitCount
        guard end - start >= count else { return nil }
        for offset in 0..<count {
            let byte = bytes[start + offset]
            let folded = (byte >= 0x61 && byte <= 0x7A) ? byte - 0x20 : byte
            guard folded == keyword.utf8Start[offset] else { return nil }
        }
        var index = start + count
        while index < end, bytes[index] == UInt8(ascii: " ") { index += 1 }
        return index
    }

    /// `bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ]`, `chunk-size = 1*DIGIT`,
    /// `end-marker = "LAST"` (RFC 3030 §2).
    private func parseBDAT(_ argument: Substring) throws(CommandParseError) -> Command {
        let words = argument.split(separator: " ")
        guard words.count == 1 || (words.count == 2 && words[1].uppercased() == "LAST"),
              words[0].utf8.count <= 18, words[0].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let size = Int(words[0]) else {
            throw Self.syntax(.bdat, "BDAT chunk-size [LAST]")
        }
        return .bdat(size: size, last: words.count == 2)
    }

    /// `"AUTH" SP sasl-mech [SP initial-response]`, `initial-response = base64 / "="`
    /// (RFC 4954 §4).
    private func parseAuth(_ argument: Substring) throws(CommandParseError) -> Command {
        let words = argument.split(separator: " ")
        guard words.count == 1 || words.count == 2 else {
            throw Self.syntax(.auth, "AUTH mechanism [initial-response]")
        }
        // sasl-mech = 1*20(UPPER-ALPHA / DIGIT / "-" / "_") (RFC 4422 §3.1), case-insensitive.
        let mechanism = words[0].uppercased()
        guard mechanism.utf8.count <= 20, mechanism.utf8.allSatisfy({
            ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
        }) else {
            throw Self.syntax(.auth, "AUTH mechanism [initial-response]")
        }
        guard words.count == 2 else { return .auth(mechanism: mechanism, initialResponse: nil) }
        if words[1] == "=" { return .auth(mechanism: mechanism, initialResponse: []) }
        guard let decoded = Base64.decode(words[1]) else {
            throw Self.error(.auth, 501, EnhancedCode(5, 5, 2), "Invalid base64 data")
        }
        return .auth(mechanism: mechanism, initialResponse: decoded)
    }
}
