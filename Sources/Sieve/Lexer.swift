/// Splits a script into the tokens of RFC 5228 §8.1: identifiers, tags, numbers with their
/// K/M/G quantifiers, quoted strings (§2.4.2: `\\` and `\"` escaped, any other backslash
/// dropped), multi-line `text:` strings (dot-stuffed lines, §2.4.2), punctuation; `#` and
/// `/* */` comments and white space skipped. Line ends may be CRLF or LF alone.
struct Lexer {
    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var column = 1

    /// The largest number a script may write (Pigeonhole's limit, 2^63 − 1 here).
    static let largestNumber = Int.max

    init(_ text: String) {
        self.bytes = Array(text.utf8)
    }

    private var position: SourcePosition { SourcePosition(line: line, column: column) }

    private func peek(_ offset: Int = 0) -> UInt8? {
        index + offset < bytes.count ? bytes[index + offset] : nil
    }

    private mutating func advance() {
        let byte = bytes[index]
        index += 1
        if byte == 0x0A {
            line += 1
            column = 1
        } else if byte & 0xC0 != 0x80 {
            column += 1
        }
    }

    private static func isAlpha(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }
    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// Every token, the last one `.end`.
    mutating func tokens() throws(SieveError) -> [Token] {
        var result: [Token] = []
        while true {
            let token = try next()
            result.append(token)
            if token.kind == .end { return result }
        }
    }

    private mutating func skipSpaceAndComments() throws(SieveError) {
        while let byte = peek() {
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D:
                advance()
            case UInt8(ascii: "#"):
                while let next = peek(), next != 0x0A { advance() }
            case UInt8(ascii: "/") where peek(1) == UInt8(ascii: "*"):
                let start = position
                advance(); advance()
                while true {
                    guard let next = peek() else { throw SieveError("unterminated comment", at: start) }
                    if next == UInt8(ascii: "*") && peek(1) == UInt8(ascii: "/") {
                        advance(); advance()
                        break
                    }
                    advance()
                }
            default:
                return
            }
        }
    }

    private mutating func next() throws(SieveError) -> Token {
        try skipSpaceAndComments()
        let start = position
        guard let byte = peek() else { return Token(kind: .end, position: start) }
        func single(_ kind: TokenKind) -> Token {
            advance()
            return Token(kind: kind, position: start)
        }
        switch byte {
        case UInt8(ascii: "["): return single(.leftBracket)
        case UInt8(ascii: "]"): return single(.rightBracket)
        case UInt8(ascii: "("): return single(.leftParenthesis)
        case UInt8(ascii: ")"): return single(.rightParenthesis)
        case UInt8(ascii: "{"): return single(.leftBrace)
        case UInt8(ascii: "}"): return single(.rightBrace)
        case UInt8(ascii: ","): return single(.comma)
        case UInt8(ascii: ";"): return single(.semicolon)
        case UInt8(ascii: "\""): return Token(kind: .string(try quotedString()), position: start)
        case UInt8(ascii: ":"):
            advance()
            guard let first = peek(), Self.isAlpha(first) || first == UInt8(ascii: "_") else {
                throw SieveError("a tag needs a name after its colon", at: start)
            }
            return Token(kind: .tag(identifierText().lowercased()), position: start)
        default:
            if Self.isDigit(byte) { return Token(kind: .number(try number(start)), position: start) }
            if Self.isAlpha(byte) || byte == UInt8(ascii: "_") {
                let name = identifierText()
                if name.lowercased() == "text", peek() == UInt8(ascii: ":") {
                    advance()
                    return Token(kind: .string(try multiLine(start)), position: start)
                }
                return Token(kind: .identifier(name), position: start)
            }
            let scalar = String(decoding: bytes[index..<min(index + 4, bytes.count)], as: UTF8.self).prefix(1)
            throw SieveError("unexpected character '\(scalar)'", at: start)
        }
    }

    private mutating func identifierText() -> String {
        let begin = index
        while let byte = peek(), Self.isAlpha(byte) || Self.isDigit(byte) || byte == UInt8(ascii: "_") { advance() }
        return String(decoding: bytes[begin..<index], as: UTF8.self)
    }

    private mutating func number(_ start: SourcePosition) throws(SieveError) -> Int {
        var value = 0
        while let byte = peek(), Self.isDigit(byte) {
            let (times, overflowTimes) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowSum) = times.addingReportingOverflow(Int(byte - 0x30))
            guard !overflowTimes, !overflowSum else { throw SieveError("number too large", at: start) }
            value = sum
            advance()
        }
        if let byte = peek() {
            let shift: Int?
            switch byte | 0x20 {
            case UInt8(ascii: "k"): shift = 10
            case UInt8(ascii: "m"): shift = 20
            case UInt8(ascii: "g"): shift = 30
            default: shift = nil
            }
            if let shift {
                advance()
                guard value <= Self.largestNumber >> shift else { throw SieveError("number too large", at: start) }
                value <<= shift
            }
        }
        if let byte = peek(), Self.isAlpha(byte) || byte == UInt8(ascii: "_") {
            throw SieveError("a number runs into a name", at: position)
        }
        return value
    }

    private mutating func quotedString() throws(SieveError) -> String {
        let start = position
        advance()
        var octets: [UInt8] = []
        while true {
            guard let byte = peek() else { throw SieveError("unterminated string", at: start) }
            advance()
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: octets, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escaped = peek() else { throw SieveError("unterminated string", at: start) }
                advance()
                octets.append(escaped)
            default:
                octets.append(byte)
            }
        }
    }

    /// `"text:" *(SP / HTAB) (hash-comment / CRLF) *(multiline-literal / multiline-dotstart) "." CRLF`
    private mutating func multiLine(_ start: SourcePosition) throws(SieveError) -> String {
        while let byte = peek(), byte == 0x20 || byte == 0x09 { advance() }
        if peek() == UInt8(ascii: "#") {
            while let byte = peek(), byte != 0x0A { advance() }
        }
        if peek() == 0x0D { advance() }
        guard peek() == 0x0A else { throw SieveError("text: must be followed by the end of the line", at: position) }
        advance()
        var octets: [UInt8] = []
        while true {
            guard index < bytes.count else { throw SieveError("unterminated text: block (a line with a single dot ends it)", at: start) }
            var lineBytes: [UInt8] = []
            while let byte = peek(), byte != 0x0A {
                lineBytes.append(byte)
                advance()
            }
            let endedWithNewline = peek() == 0x0A
            if endedWithNewline { advance() }
            if lineBytes.last == 0x0D { lineBytes.removeLast() }
            if lineBytes == [UInt8(ascii: ".")] {
                guard endedWithNewline || index == bytes.count else { break }
                return String(decoding: octets, as: UTF8.self)
            }
            // Dot-stuffing: a line that starts with a dot has one more (RFC 5228 §2.4.2).
            if lineBytes.first == UInt8(ascii: ".") { lineBytes.removeFirst() }
            octets += lineBytes
            octets += [0x0D, 0x0A]
            if !endedWithNewline { throw SieveError("unterminated text: block (a line with a single dot ends it)", at: start) }
        }
        throw SieveError("unterminated text: block", at: start)
    }
}
