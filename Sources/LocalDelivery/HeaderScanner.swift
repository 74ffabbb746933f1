/// Keeps the header section (RFC 5322 §2.1, bounded) while the message streams past, to find
/// the fields delivery needs: the Message-ID (§3.6.4) and any `Delivered-To:` trace fields (a
/// loop). Folded lines are unfolded.
///
/// It works on octets: the header is copied in once per chunk and searched with plain loops, so
/// a message costs no `String` until a field is found.
struct HeaderScanner {
    private var header: [UInt8] = []
    /// Where the search for the empty line that ends the header goes on.
    private var searched = 0
    private var done = false
    private static let limit = 64 * 1024

    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard !done, !bytes.isEmpty else { return }
        header.append(contentsOf: bytes.prefix(Self.limit - header.count))
        header.withUnsafeBufferPointer { header in
            // The header section ends at the first empty line: LF LF or LF CR LF.
            var index = searched
            while index < header.count {
                guard header[index] == 0x0A else { index += 1; continue }
                guard index + 1 < header.count else { break }
                if header[index + 1] == 0x0A {
                    done = true
                } else if header[index + 1] == 0x0D {
                    guard index + 2 < header.count else { break }
                    done = header[index + 2] == 0x0A
                }
                if done { break }
                index += 1
            }
            searched = index
        }
        if done {
            header.removeSubrange((searched + 1)...)
        } else if header.count >= Self.limit {
            done = true
        }
    }

    /// The Message-ID's value (`<…>`), if the header has one: the first field named
    /// `Message-ID` (in any case), unfolded, without the white space around it.
    var messageID: String? { values(of: "message-id", first: true).first }

    /// The header section kept (up to 64 KiB).
    var headerSection: [UInt8] { header }

    /// The values of the fields named `name` (lower-case; fields match in any case), in header
    /// order, each unfolded and without the white space around it; empty ones left out.
    func values(of name: String, first: Bool = false) -> [String] {
        let expected = Array(name.utf8)
        return header.withUnsafeBufferPointer { header -> [String] in
            var found: [String] = []
            var value: [UInt8]?
            func close() {
                guard let field = value else { return }
                value = nil
                let trimmed = field.drop(while: Self.isBlank).reversed().drop(while: Self.isBlank).reversed()
                if !trimmed.isEmpty { found.append(String(decoding: trimmed, as: UTF8.self)) }
            }
            var start = 0
            while start < header.count {
                var end = start
                while end < header.count && header[end] != 0x0A { end += 1 }
                var content = end
                if content > start && header[content - 1] == 0x0D { content -= 1 }
                let line = header[start..<content]
                start = end + 1
                if let first = line.first, first == 0x20 || first == 0x09 {
                    value?.append(contentsOf: line)   // a folded line continues the field
                    continue
                }
                close()                               // the field ended
                if first && !found.isEmpty { break }
                guard let colon = line.firstIndex(of: 0x3A), Self.isName(line[line.startIndex..<colon], expected) else { continue }
                value = Array(line[(colon + 1)...])
            }
            close()
            return first ? Array(found.prefix(1)) : found
        }
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// Whether a field name, with blanks around it, is `expected` (lower-case) in any case.
    private static func isName(_ name: Slice<UnsafeBufferPointer<UInt8>>, _ expected: [UInt8]) -> Bool {
        let trimmed = name.drop(while: isBlank).reversed().drop(while: isBlank).reversed()
        guard trimmed.count == expected.count else { return false }
        return zip(trimmed, expected).allSatisfy { byte, wanted in
            (byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) == wanted
        }
    }
}
