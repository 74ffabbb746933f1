/// Standard base64 (RFC 4648 §4), as used by AUTH exchanges (RFC 4954 §4).
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let table: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(value) }
        return table
    }()

    /// Encodes `bytes` with padding.
    public static func encode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = second == nil ? nil : iterator.next()
            let value = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            out.append(alphabet[Int(value >> 18 & 0x3F)])
            out.append(alphabet[Int(value >> 12 & 0x3F)])
            out.append(second == nil ? UInt8(ascii: "=") : alphabet[Int(value >> 6 & 0x3F)])
            out.append(third == nil ? UInt8(ascii: "=") : alphabet[Int(value & 0x3F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes padded base64, or returns `nil` for anything else (wrong length, characters
    /// outside the alphabet, non-zero padding bits).
    public static func decode<Text: StringProtocol>(_ text: Text) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(input.count / 4 * 3)
        var position = 0
        while position < input.count {
            let isLast = position + 4 == input.count
            var values = [UInt32](repeating: 0, count: 4)
            var padding = 0
            for offset in 0..<4 {
                let byte = input[position + offset]
                if byte == UInt8(ascii: "=") && isLast && offset >= 2 {
                    padding += 1
                    continue
                }
                let value = table[Int(byte)]
                guard value != 0xFF, padding == 0 else { return nil }
                values[offset] = UInt32(value)
            }
            let combined = values[0] << 18 | values[1] << 12 | values[2] << 6 | values[3]
            out.append(UInt8(combined >> 16 & 0xFF))
            if padding < 2 { out.append(UInt8(combined >> 8 & 0xFF)) } else if combined & 0xFFFF != 0 { return nil }
            if padding < 1 { out.append(UInt8(combined & 0xFF)) } else if combined & 0xFF != 0 { return nil }
            position += 4
        }
        return out
    }
}
