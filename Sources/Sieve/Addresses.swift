/// Addresses as the address tests take them apart (RFC 5228 §2.7.4) and as redirect and
/// vacation check them.
enum Addresses {
    /// `local-part "@" domain` of an addr-spec (RFC 5322 §3.4.1), angle brackets allowed
    /// around it; `nil` for anything else.
    static func mailbox(_ text: String) -> (localPart: String, domain: String)? {
        var address = Substring(text.trimmingSpaces)
        // `Name <addr>` names one mailbox as well (Pigeonhole takes it for redirect).
        if address.contains("<") {
            let found = HeaderDecoding.addresses(String(address))
            guard found.count == 1 else { return nil }
            address = Substring(found[0])
        }
        guard let at = address.lastIndex(of: "@") else { return nil }
        let local = address[..<at], domain = address[address.index(after: at)...]
        guard !local.isEmpty, !domain.isEmpty, !domain.hasPrefix("."), !domain.hasSuffix("."), !domain.contains(".."),
              domain.unicodeScalars.allSatisfy({ $0.value > 32 && !"()<>,;:\\\"@[]".unicodeScalars.contains($0) } ) || domain.hasPrefix("["),
              local.unicodeScalars.allSatisfy({ $0.value > 32 || local.hasPrefix("\"") }) else { return nil }
        return (String(local), String(domain))
    }

    /// The part of `address` a test asks for; `nil` when the address has no such part (no
    /// detail without a separator, RFC 5233 §4).
    static func part(_ part: AddressPart, of address: String, separator: Character = "+") -> String? {
        let at = address.lastIndex(of: "@")
        let local = unquoted(at.map { String(address[..<$0]) } ?? address)
        let domain = at.map { String(address[address.index(after: $0)...]) } ?? ""
        switch part {
        case .all: return address
        case .localPart: return local
        case .domain: return domain
        case .user:
            return local.firstIndex(of: separator).map { String(local[..<$0]) } ?? local
        case .detail:
            return local.firstIndex(of: separator).map { String(local[local.index(after: $0)...]) }
        }
    }
}

/// A quoted-string local part without its quotes and escapes (RFC 5322 §3.2.4), as
/// Pigeonhole compares it; any other text as it is.
func unquoted(_ local: String) -> String {
    guard local.count >= 2, local.hasPrefix("\""), local.hasSuffix("\"") else { return local }
    var result = ""
    var escaped = false
    for character in local.dropFirst().dropLast() {
        if escaped || character != "\\" { result.append(character); escaped = false } else { escaped = true }
    }
    return result
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return String(text)
    }
}
