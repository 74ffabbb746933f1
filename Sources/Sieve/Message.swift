/// A message as a Sieve script sees it (RFC 5228 §2.4.2.2, §5): its header fields, its body,
/// its size, and the envelope it came with.
public struct SieveMessage: Sendable {
    /// One header field: its name as written and its value unfolded (CRLF before white space
    /// removed, RFC 5322 §2.2.3), leading white space dropped.
    public struct Field: Hashable, Sendable {
        /// The name as written.
        public var name: String
        /// The unfolded raw value.
        public var value: String
        /// The name lower-cased, for lookups.
        var key: String
    }

    /// The header fields in order.
    public var fields: [Field]
    /// The body: the octets after the blank line.
    public var body: [UInt8]
    /// The whole message's size in octets (the `size` test, RFC 5228 §5.9).
    public var size: Int
    /// The envelope sender (`MAIL FROM`), `""` for the null sender.
    public var envelopeFrom: String
    /// The envelope recipient this delivery is for (`RCPT TO`).
    public var envelopeTo: String

    /// Splits `octets` into header fields and body; header lines end with CRLF or LF.
    public init(_ octets: [UInt8], envelopeFrom: String, envelopeTo: String) {
        var fields: [Field] = []
        var index = 0
        var bodyStart = octets.count
        var current: (name: String, value: [UInt8])?
        func finish() {
            guard let field = current else { return }
            var value = field.value
            while let last = value.last, last == 0x20 || last == 0x09 { value.removeLast() }
            var start = 0
            while start < value.count, value[start] == 0x20 || value[start] == 0x09 { start += 1 }
            fields.append(Field(name: field.name, value: String(decoding: value[start...], as: UTF8.self), key: field.name.lowercased()))
            current = nil
        }
        while index < octets.count {
            var end = index
            while end < octets.count, octets[end] != 0x0A { end += 1 }
            var line = octets[index..<end]
            if line.last == 0x0D { line = line.dropLast() }
            let next = min(end + 1, octets.count)
            if line.isEmpty {
                bodyStart = next
                break
            }
            if line.first == 0x20 || line.first == 0x09 {
                // Unfolding: the CRLF goes, the white space stays (RFC 5322 §2.2.3).
                current?.value += line
            } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
                finish()
                var name = Array(line[line.startIndex..<colon])
                while let last = name.last, last == 0x20 || last == 0x09 { name.removeLast() }
                current = (String(decoding: name, as: UTF8.self), Array(line[(colon + 1)...]))
            } else {
                // Not a header line: the header ends here, and this line starts the body.
                finish()
                bodyStart = index
                break
            }
            index = next
            if index == octets.count { bodyStart = octets.count }
        }
        finish()
        self.fields = fields
        self.body = bodyStart < octets.count ? Array(octets[bodyStart...]) : []
        self.size = octets.count
        self.envelopeFrom = envelopeFrom
        self.envelopeTo = envelopeTo
    }

    /// The raw values of the fields named `name` (case-insensitive), in order.
    func values(of name: String) -> [String] {
        let lower = name.lowercased()
        return fields.compactMap { $0.key == lower ? $0.value : nil }
    }
}

extension SieveMessage {
    /// The first address in the first field named `name`, for defaults such as the envelope of
    /// a message tried outside delivery.
    public func firstAddress(in name: String) -> String? {
        values(of: name).lazy.flatMap(HeaderDecoding.addresses).first
    }
}
