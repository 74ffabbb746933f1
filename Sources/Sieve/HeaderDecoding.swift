import Foundation

/// Header values as the tests compare them: RFC 2047 encoded words decoded (Pigeonhole decodes
/// them for `header` and `:matches` alike), addresses taken out of RFC 5322 address lists.
enum HeaderDecoding {
    /// `value` with every RFC 2047 encoded word (`=?charset?B|Q?text?=`) decoded; white space
    /// between two adjacent encoded words dropped (RFC 2047 §6.2). A word in an unknown charset
    /// or malformed stays as written.
    static func decodeEncodedWords(_ value: String) -> String {
        // Most values have no encoded word: a scan of the octets says so without Foundation.
        let utf8 = value.utf8
        guard let equals = utf8.firstIndex(of: UInt8(ascii: "=")),
              utf8[equals...].dropFirst().contains(UInt8(ascii: "?")) else { return value }
        var result = ""
        var pendingSpace = ""
        var previousWasEncoded = false
        var rest = Substring(value)
        while !rest.isEmpty {
            // White space runs are held until we know whether two encoded words surround them.
            let space = rest.prefix { $0 == " " || $0 == "\t" }
            if !space.isEmpty {
                pendingSpace = String(space)
                rest = rest.dropFirst(space.count)
                continue
            }
            let word = rest.prefix { $0 != " " && $0 != "\t" }
            rest = rest.dropFirst(word.count)
            if let decoded = decodeWord(word) {
                if !previousWasEncoded { result += pendingSpace }
                result += decoded
                previousWasEncoded = true
            } else {
                result += pendingSpace + word
                previousWasEncoded = false
            }
            pendingSpace = ""
        }
        return result + pendingSpace
    }

    /// One `=?charset?encoding?text?=` word, decoded; `nil` when it is not one.
    private static func decodeWord(_ word: Substring) -> String? {
        guard word.hasPrefix("=?"), word.hasSuffix("?="), word.count >= 8 else { return nil }
        let inner = word.dropFirst(2).dropLast(2)
        let pieces = inner.split(separator: "?", maxSplits: 2, omittingEmptySubsequences: false)
        guard pieces.count == 3 else { return nil }
        // RFC 2231 §5: a language after `*` in the charset.
        let charset = pieces[0].split(separator: "*").first.map { $0.lowercased() } ?? ""
        let octets: [UInt8]
        switch pieces[1].uppercased() {
        case "B":
            guard let data = Data(base64Encoded: String(pieces[2]), options: .ignoreUnknownCharacters) else { return nil }
            octets = Array(data)
        case "Q":
            var decoded: [UInt8] = []
            var bytes = Array(pieces[2].utf8)[...]
            while let byte = bytes.popFirst() {
                if byte == UInt8(ascii: "_") {
                    decoded.append(0x20)
                } else if byte == UInt8(ascii: "="), bytes.count >= 2,
                          let value = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) {
                    decoded.append(value)
                    bytes = bytes.dropFirst(2)
                } else {
                    decoded.append(byte)
                }
            }
            octets = decoded
        default:
            return nil
        }
        return decode(octets, charset: charset)
    }

    /// `octets` in `charset` (a MIME charset name, lower-cased) as text, `nil` for a charset
    /// not known here.
    static func decode(_ octets: [UInt8], charset: String) -> String? {
        let encoding: String.Encoding
        switch charset {
        case "utf-8", "utf8": return String(decoding: octets, as: UTF8.self)
        case "us-ascii", "ascii": encoding = .ascii
        case "iso-8859-1", "latin1", "iso8859-1": encoding = .isoLatin1
        case "iso-8859-2", "latin2": encoding = .isoLatin2
        case "windows-1250", "cp1250": encoding = .windowsCP1250
        case "windows-1251", "cp1251": encoding = .windowsCP1251
        case "windows-1252", "cp1252": encoding = .windowsCP1252
        case "windows-1253", "cp1253": encoding = .windowsCP1253
        case "windows-1254", "cp1254": encoding = .windowsCP1254
        case "utf-16": encoding = .utf16
        default: return nil
        }
        return String(data: Data(octets), encoding: encoding) ?? String(decoding: octets, as: UTF8.self)
    }

    /// The addr-specs of an RFC 5322 address list (display names, comments, groups and route
    /// brackets taken away), in order; a part that holds no address gives none.
    static func addresses(_ value: String) -> [String] {
        var result: [String] = []
        var current = ""          // the text of this mailbox outside angle brackets
        var bracketed: String?    // the text inside <…>, when there was some
        var inBrackets = false
        var quoted = false
        var commentDepth = 0
        var escape = false
        func finishMailbox() {
            let address = (bracketed ?? current).trimmingSpaces
            if !address.isEmpty { result.append(address) }
            current = ""
            bracketed = nil
        }
        for character in value {
            if escape {
                if inBrackets { bracketed?.append(character) } else if commentDepth == 0 { current.append(character) }
                escape = false
                continue
            }
            if commentDepth > 0 {
                switch character {
                case "\\": escape = true
                case "(": commentDepth += 1
                case ")": commentDepth -= 1
                default: break
                }
                continue
            }
            if quoted {
                if character == "\\" { escape = true }
                if character == "\"" { quoted = false }
                if inBrackets { bracketed?.append(character) } else { current.append(character) }
                continue
            }
            switch character {
            case "\"":
                quoted = true
                if inBrackets { bracketed?.append(character) } else { current.append(character) }
            case "(":
                commentDepth = 1
            case "<":
                inBrackets = true
                bracketed = ""
            case ">":
                inBrackets = false
            case ":" where !inBrackets:
                // A group's display name ends here; its members follow.
                current = ""
            case ";" where !inBrackets:
                finishMailbox()
            case "," where !inBrackets:
                finishMailbox()
            default:
                if inBrackets { bracketed?.append(character) } else { current.append(character) }
            }
        }
        finishMailbox()
        // A route before the mailbox (`<@a,@b:user@c>`, RFC 5322 §4.4) is dropped.
        return result.map { address in
            guard address.hasPrefix("@"), let colon = address.lastIndex(of: ":") else { return address }
            return String(address[address.index(after: colon)...])
        }
    }
}
