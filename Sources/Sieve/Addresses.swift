/// Addresses as the address tests take them apart (RFC 5228 §2.7.4) and as redirect and
/// vacation check them.
enum Addresses {
    /// RFC 5322 §3.2.3's specials, which a domain name never holds.
    static let specials = Set("()<>,;:\\\"@[]".utf8)

    /// `local-part "@" domain` of an addr-spec (RFC 5322 §3.4.1), angle brackets allowed
    /// around it; `nil` for anything else.
    static func mailbox(_ text: String) -> (localPart: String, domain: String)? {
        var address = Substring(text.trimmingSpaces)
        // `Name <addr>` names one mailbox as well (Pigeonhole takes it for redirect).
        if address.utf8.contains(UInt8(ascii: "<")) {
            let found = HeaderDecoding.addresses(String(address))
            guard found.count == 1 else { return nil }
            address = Substring(found[0])
        }
        guard let at = address.lastIndex(of: "@") else { return nil }
        let local = address[..<at], domain = address[address.index(after: at)...]
        let domainOctets = Array(domain.utf8)
        let literal = domainOctets.first == UInt8(ascii: "[")
        var previous: UInt8 = 0
        for octet in domainOctets where !literal {
            // No control, space or specials (RFC 5322 §3.2.3), no empty label.
            if octet <= 32 || Self.specials.contains(octet) || (octet == UInt8(ascii: ".") && previous == octet) { return nil }
            previous = octet
        }
        let quotedLocal = local.utf8.first == UInt8(ascii: "\"")
        guard !local.isEmpty, !domainOctets.isEmpty, domainOctets.first != UInt8(ascii: "."), domainOctets.last != UInt8(ascii: "."),
              quotedLocal || local.utf8.allSatisfy({ $0 > 32 }) else { return nil }
        return (String(local), String(domain))
    }

    /// The part of `address` a test asks for; `nil` when the address has no such part (no
    /// detail without a separator, RFC 5233 §4).
    static func part(_ part: AddressPart, of address: String, separator: Character = "+") -> String? {
        if part == .all { return address }
        let at = address.utf8.lastIndex(of: UInt8(ascii: "@"))
        if part == .domain { return at.map { String(address[address.index(after: $0)...]) } ?? "" }
        let local = unquoted(at.map { String(address[..<$0]) } ?? address)
        switch part {
        case .user:
            return local.firstIndex(of: separator).map { String(local[..<$0]) } ?? local
        case .detail:
            return local.firstIndex(of: separator).map { String(local[local.index(after: $0)...]) }
        default:
            return local
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
