/// A string argument as the script runs it: literal text and, with "variables" (RFC 5229 §3),
/// `${name}` and `${N}` references replaced by their values when the command runs.
struct StringTemplate: Hashable, Sendable {
    enum Part: Hashable, Sendable {
        case literal(String)
        /// A variable, its name lower-cased (names are case-insensitive, RFC 5229 §3).
        case variable(String)
        /// A match variable `${N}` (RFC 5229 §3.2).
        case match(Int)
    }

    var parts: [Part]

    /// Whether the string has no reference to expand.
    var isConstant: Bool { parts.allSatisfy { if case .literal = $0 { true } else { false } } }

    /// The text when constant.
    var constant: String? {
        guard isConstant else { return nil }
        return parts.map { if case .literal(let text) = $0 { text } else { "" } }.joined()
    }

    /// A string without references.
    init(literal: String) {
        parts = [.literal(literal)]
    }

    /// `text` with `${…}` references when `variables` is on, literal otherwise. A `${` that
    /// does not open a valid reference stays as written (RFC 5229 §3).
    init(_ text: String, variables: Bool) {
        guard variables, text.contains("${") else {
            self.init(literal: text)
            return
        }
        var found: [Part] = []
        var literal = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            literal += rest[..<open.lowerBound]
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.firstIndex(of: "}"), let part = Self.reference(afterOpen[..<close]) else {
                literal += "${"
                rest = afterOpen
                continue
            }
            if !literal.isEmpty { found.append(.literal(literal)); literal = "" }
            found.append(part)
            rest = afterOpen[afterOpen.index(after: close)...]
        }
        literal += rest
        if !literal.isEmpty || found.isEmpty { found.append(.literal(literal)) }
        self.init(parts: found)
    }

    init(parts: [Part]) {
        self.parts = parts
    }

    /// `variable-ref = "${" [namespace] variable-name "}"`, `num-variable = 1*DIGIT`
    /// (RFC 5229 §3).
    private static func reference(_ name: Substring) -> Part? {
        guard let first = name.first else { return nil }
        if first.isASCII && first.isNumber {
            guard name.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            // Only ${0} to ${9} are ever set; a larger number is a reference to nothing.
            return .match(Int(name.prefix(3)) ?? 999)
        }
        // `namespace "." name` (RFC 5229 §3): no namespace is implemented, so such a
        // reference is empty, as Pigeonhole makes it.
        let pieces = name.split(separator: ".", omittingEmptySubsequences: false)
        guard pieces.allSatisfy(isIdentifier) else { return nil }
        return pieces.count == 1 ? .variable(name.lowercased()) : .literal("")
    }

    /// `identifier = (ALPHA / "_") *(ALPHA / DIGIT / "_")`.
    static func isIdentifier(_ name: Substring) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCII,
              first.properties.isAlphabetic || first == "_" else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") }
    }
}

/// RFC 5228 §2.4.2.4, "encoded-character": `${hex:…}` and `${unicode:…}` in a string become the
/// octets or characters they name, before anything else sees the string.
enum EncodedCharacter {
    /// `text` with its encoded characters decoded; a malformed encoding stays as written.
    static func decode(_ text: String) -> String {
        guard text.contains("${") else { return text }
        var result = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            result += rest[..<open.lowerBound]
            let afterOpen = rest[open.upperBound...]
            if let close = afterOpen.firstIndex(of: "}"), let decoded = decodeOne(afterOpen[..<close]) {
                result += decoded
                rest = afterOpen[afterOpen.index(after: close)...]
            } else {
                result += "${"
                rest = afterOpen
            }
        }
        return result + rest
    }

    private static func decodeOne(_ body: Substring) -> String? {
        guard let colon = body.firstIndex(of: ":") else { return nil }
        let kind = body[..<colon].lowercased()
        let values = body[body.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" })
        guard !values.isEmpty else { return nil }
        switch kind {
        case "hex":
            var octets: [UInt8] = []
            for value in values {
                guard value.count <= 2, let octet = UInt8(value, radix: 16) else { return nil }
                octets.append(octet)
            }
            // Octets that are not UTF-8 are kept as replacement characters.
            return String(decoding: octets, as: UTF8.self)
        case "unicode":
            var scalars = String.UnicodeScalarView()
            for value in values {
                guard value.count <= 6, let code = UInt32(value, radix: 16), let scalar = Unicode.Scalar(code) else { return nil }
                scalars.append(scalar)
            }
            return String(scalars)
        default:
            return nil
        }
    }
}
