import Foundation

/// Finds the Message-ID header field (RFC 5322 §3.6.4) while the message streams past, looking
/// only at the header section (bounded), folded lines included.
struct MessageIDScanner {
    private var header: [UInt8] = []
    private var done = false
    private static let limit = 64 * 1024

    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard !done else { return }
        for byte in bytes {
            header.append(byte)
            // The header section ends at the first empty line.
            if header.count >= 2 && header[header.count - 1] == 0x0A
                && (header[header.count - 2] == 0x0A || (header.count >= 3 && header[header.count - 2] == 0x0D && header[header.count - 3] == 0x0A)) {
                done = true
                return
            }
            if header.count >= Self.limit {
                done = true
                return
            }
        }
    }

    /// The Message-ID's value (`<…>`), if the header has one.
    var messageID: String? {
        let text = String(decoding: header, as: UTF8.self)
        var lines: [String] = []
        // "\r\n" is one Character in Swift, a newline like "\n".
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init) {
            if let first = line.first, first == " " || first == "\t", !lines.isEmpty {
                lines[lines.count - 1] += line
            } else {
                lines.append(line)
            }
        }
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            guard line[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == "message-id" else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            return value.isEmpty ? nil : value
        }
        return nil
    }
}
