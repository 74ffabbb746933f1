#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    /// `octets` with ASCII letters in lower case, as i;ascii-casemap compares them.
    static func fold<Octets: Collection<UInt8>>(_ octets: Octets) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: octets.count)
        result.withUnsafeMutableBufferPointer { output in
            var index = 0
            for octet in octets {
                output[index] = fold(octet)
                index += 1
            }
        }
        return result
    }

    /// The octets a comparison looks at.
    func key(_ text: String) -> [UInt8] {
        var text = text
        return text.withUTF8 { octets in self == .asciiCaseMap ? Self.fold(octets) : Array(octets) }
    }

    /// The number an i;ascii-numeric string stands for; `nil` for "positive infinity".
    private static func numericValue(_ text: String) -> [UInt8]? {
        let digits = text.utf8.prefix { $0 >= 0x30 && $0 <= 0x39 }
        guard !digits.isEmpty else { return nil }
        let significant = Array(digits.drop { $0 == 0x30 })
        return significant
    }

    /// Runs `body` on the UTF-8 octets of `a` and `b` without copying them (native strings
    /// are contiguous; others are copied once).
    private static func withOctets<Result>(_ a: String, _ b: String,
                                           _ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        var a = a, b = b
        return a.withUTF8 { x in b.withUTF8 { y in body(x, y) } }
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
            let folds = self == .asciiCaseMap
            return Self.withOctets(a, b) { x, y in
                for index in 0..<min(x.count, y.count) {
                    let p = folds ? Self.fold(x[index]) : x[index], q = folds ? Self.fold(y[index]) : y[index]
                    if p != q { return p < q ? -1 : 1 }
                }
                return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
            }
        }
    }

    /// Whether `folded`, a value already through ``key(_:)``, contains `key`: for long values
    /// (bodies) tested against several keys, folded once.
    func contains(folded: [UInt8], _ key: String) -> Bool {
        let needle = self.key(key)
        if needle.isEmpty { return true }
        guard folded.count >= needle.count else { return false }
        // The needle's rarest octet is looked for with memchr(3), which scans many octets at
        // once; each place it is found is a candidate, compared whole. In text the rarest
        // letter of a word seldom occurs, so few candidates are compared.
        let anchor = Self.rarestPosition(needle)
        let octet = Int32(needle[anchor])
        return folded.withUnsafeBufferPointer { haystack in
            needle.withUnsafeBufferPointer { needle in
                let base = haystack.baseAddress!
                let lastStart = haystack.count - needle.count
                var start = 0
                while start <= lastStart {
                    // The anchor of a match starting anywhere from `start` to `lastStart`.
                    guard let found = memchr(base + start + anchor, octet, lastStart - start + 1) else { return false }
                    let candidate = base.distance(to: found.assumingMemoryBound(to: UInt8.self)) - anchor
                    if memcmp(base + candidate, needle.baseAddress!, needle.count) == 0 { return true }
                    start = candidate + 1
                }
                return false
            }
        }
    }

    /// Where in `needle` its least common octet is, by how often octets occur in English text
    /// (letters from the rarest up; anything else counts as rarer than every letter).
    static func rarestPosition(_ needle: [UInt8]) -> Int {
        var best = 0, bestRank = Int.max
        for (index, octet) in needle.enumerated() {
            let rank = letterFrequency.firstIndex(of: fold(octet)).map { $0 + 1 } ?? 0
            if rank < bestRank { best = index; bestRank = rank }
        }
        return best
    }

    /// Lower-case letters from the rarest to the most common in English text.
    private static let letterFrequency = Array("zqxjkvbpygfwmucldrhsnioate ".utf8)

    /// Whether `value` contains `key` (RFC 5228 §2.7.1 `:contains`).
    func contains(_ value: String, _ key: String) -> Bool {
        let folds = self == .asciiCaseMap
        return Self.withOctets(value, key) { haystack, needle in
            if needle.isEmpty { return true }
            guard haystack.count >= needle.count else { return false }
            let first = folds ? Self.fold(needle[0]) : needle[0]
            var start = 0
            while start <= haystack.count - needle.count {
                if (folds ? Self.fold(haystack[start]) : haystack[start]) == first {
                    var offset = 1
                    while offset < needle.count,
                          (folds ? Self.fold(haystack[start + offset]) : haystack[start + offset])
                            == (folds ? Self.fold(needle[offset]) : needle[offset]) {
                        offset += 1
                    }
                    if offset == needle.count { return true }
                }
                start += 1
            }
            return false
        }
    }

    /// Whether `value` matches the wildcard `pattern` (`*` any run, `?` one character, `\`
    /// quoting the next; RFC 5228 §2.7.1 `:matches`), and what each wildcard matched (for the
    /// match variables of RFC 5229 §3.2).
    func matches(_ value: String, pattern: String) -> [String]? {
        // "*" matches anything, whole (the usual pattern of a test that only captures).
        if pattern == "*" { return [value] }
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
        // Captures are kept as ranges and made into strings once, on success.
        var failed = Set<Int>()
        var ranges: [Range<Int>] = []
        func match(_ piece: Int, _ position: Int) -> Bool {
            if piece == pieces.count { return position == text.count }
            let key = piece * (text.count + 1) + position
            if failed.contains(key) { return false }
            switch pieces[piece] {
            case .literal(let scalar):
                if position < text.count, same(text[position], scalar), match(piece + 1, position + 1) { return true }
            case .one:
                if position < text.count {
                    ranges.append(position..<position + 1)
                    if match(piece + 1, position + 1) { return true }
                    ranges.removeLast()
                }
            case .any:
                // A `*` that ends the pattern takes the rest at once.
                let ends = piece == pieces.count - 1 ? text.count...text.count : position...text.count
                for end in ends {
                    ranges.append(position..<end)
                    if match(piece + 1, end) { return true }
                    ranges.removeLast()
                }
            }
            failed.insert(key)
            return false
        }
        guard match(0, 0) else { return nil }
        return ranges.map { String(String.UnicodeScalarView(text[$0])) }
    }
}
