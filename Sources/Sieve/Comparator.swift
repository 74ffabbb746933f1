/// The comparators of RFC 4790 that Sieve scripts name (RFC 5228 §2.7.3): how two strings are
/// equal, ordered, or one found in the other.
public enum Comparator: String, Hashable, Sendable, CaseIterable {
    /// `i;octet`: octet by octet.
    case octet = "i;octet"
    /// `i;ascii-casemap` (the default): octets, with ASCII letters compared without case.
    case asciiCaseMap = "i;ascii-casemap"
    /// `i;ascii-numeric` (RFC 4790 §9.1): the number the string starts with; a string that
    /// does not start with a digit is larger than every number. Equality and order only.
    case asciiNumeric = "i;ascii-numeric"

    /// Whether the comparator can find substrings (`:contains`, `:matches`); i;ascii-numeric
    /// cannot (RFC 4790 §9.1).
    var supportsSubstrings: Bool { self != .asciiNumeric }

    private static func fold(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }

    /// The octets a comparison looks at.
    func key(_ text: String) -> [UInt8] {
        switch self {
        case .octet, .asciiNumeric: return Array(text.utf8)
        case .asciiCaseMap: return text.utf8.map(Self.fold)
        }
    }

    /// The number an i;ascii-numeric string stands for; `nil` for "positive infinity".
    private static func numericValue(_ text: String) -> [UInt8]? {
        let digits = text.utf8.prefix { $0 >= 0x30 && $0 <= 0x39 }
        guard !digits.isEmpty else { return nil }
        let significant = Array(digits.drop { $0 == 0x30 })
        return significant
    }

    /// -1, 0 or 1 as `a` is less than, equal to, or more than `b`.
    func order(_ a: String, _ b: String) -> Int {
        switch self {
        case .asciiNumeric:
            switch (Self.numericValue(a), Self.numericValue(b)) {
            case (nil, nil): return 0
            case (nil, _): return 1
            case (_, nil): return -1
            case (let x?, let y?):
                if x.count != y.count { return x.count < y.count ? -1 : 1 }
                return x.lexicographicallyPrecedes(y) ? -1 : (x == y ? 0 : 1)
            }
        case .octet, .asciiCaseMap:
            let x = key(a), y = key(b)
            if x == y { return 0 }
            return x.lexicographicallyPrecedes(y) ? -1 : 1
        }
    }

    /// Whether `value` contains `key` (RFC 5228 §2.7.1 `:contains`).
    func contains(_ value: String, _ key: String) -> Bool {
        let haystack = self.key(value), needle = self.key(key)
        if needle.isEmpty { return true }
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<start + needle.count].elementsEqual(needle) { return true }
        }
        return false
    }

    /// Whether `value` matches the wildcard `pattern` (`*` any run, `?` one character, `\`
    /// quoting the next; RFC 5228 §2.7.1 `:matches`), and what each wildcard matched (for the
    /// match variables of RFC 5229 §3.2).
    func matches(_ value: String, pattern: String) -> [String]? {
        // Characters, not octets: `?` is one character (RFC 5228 §2.7.1).
        let text = Array(value.unicodeScalars)
        enum Piece { case literal(Unicode.Scalar), any, one }
        var pieces: [Piece] = []
        var escaped = false
        for scalar in pattern.unicodeScalars {
            if escaped { pieces.append(.literal(scalar)); escaped = false; continue }
            switch scalar {
            case "\\": escaped = true
            case "*": pieces.append(.any)
            case "?": pieces.append(.one)
            default: pieces.append(.literal(scalar))
            }
        }
        func same(_ a: Unicode.Scalar, _ b: Unicode.Scalar) -> Bool {
            guard self == .asciiCaseMap else { return a == b }
            return a.isASCII && b.isASCII ? Self.fold(UInt8(a.value)) == Self.fold(UInt8(b.value)) : a == b
        }
        // Backtracking with the leftmost-shortest `*` first, as Pigeonhole assigns the
        // match variables; memoised on (piece, position) so that the work stays polynomial.
        var failed = Set<Int>()
        var captures: [String] = []
        func match(_ piece: Int, _ position: Int) -> Bool {
            if piece == pieces.count { return position == text.count }
            let key = piece * (text.count + 1) + position
            if failed.contains(key) { return false }
            switch pieces[piece] {
            case .literal(let scalar):
                if position < text.count, same(text[position], scalar), match(piece + 1, position + 1) { return true }
            case .one:
                if position < text.count {
                    captures.append(String(String.UnicodeScalarView(text[position...position])))
                    if match(piece + 1, position + 1) { return true }
                    captures.removeLast()
                }
            case .any:
                for end in position...text.count {
                    captures.append(String(String.UnicodeScalarView(text[position..<end])))
                    if match(piece + 1, end) { return true }
                    captures.removeLast()
                }
            }
            failed.insert(key)
            return false
        }
        return match(0, 0) ? captures : nil
    }
}
