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
        var bodyStart = octets.count
        octets.withUnsafeBufferPointer { octets in
            // The field being read: its name, key, and its value as the range of its first line,
            // plus the octets of continuation lines when it is folded (rare).
            var current: (name: String, key: String, first: Range<Int>, folded: [UInt8]?)?
            func isBlank(_ octet: UInt8) -> Bool { octet == 0x20 || octet == 0x09 }
            func finish() {
                guard let field = current else { return }
                current = nil
                let value: String
                if var folded = field.folded {
                    while let last = folded.last, isBlank(last) { folded.removeLast() }
                    let start = folded.firstIndex { !isBlank($0) } ?? folded.count
                    value = String(decoding: folded[start...], as: UTF8.self)
                } else {
                    var lower = field.first.lowerBound, upper = field.first.upperBound
                    while lower < upper, isBlank(octets[lower]) { lower += 1 }
                    while upper > lower, isBlank(octets[upper - 1]) { upper -= 1 }
                    value = String(decoding: UnsafeBufferPointer(rebasing: octets[lower..<upper]), as: UTF8.self)
                }
                fields.append(Field(name: field.name, value: value, key: field.key))
            }
            var index = 0
            while index < octets.count {
                var end = index
                while end < octets.count, octets[end] != 0x0A { end += 1 }
                var lineEnd = end
                if lineEnd > index, octets[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                let next = min(end + 1, octets.count)
                if lineEnd == index {
                    bodyStart = next
                    break
                }
                if isBlank(octets[index]) {
                    // Unfolding: the CRLF goes, the white space stays (RFC 5322 §2.2.3).
                    if let field = current {
                        var folded = field.folded ?? Array(octets[field.first])
                        folded += octets[index..<lineEnd]
                        current?.folded = folded
                    }
                } else if let colon = octets[index..<lineEnd].firstIndex(of: UInt8(ascii: ":")) {
                    finish()
                    var nameEnd = colon
                    while nameEnd > index, isBlank(octets[nameEnd - 1]) { nameEnd -= 1 }
                    let name = UnsafeBufferPointer(rebasing: octets[index..<nameEnd])
                    // The key: ASCII letters lower-cased (a field name is printable ASCII).
                    let key = String(unsafeUninitializedCapacity: name.count) { buffer in
                        for (offset, octet) in name.enumerated() {
                            buffer[offset] = octet >= 0x41 && octet <= 0x5A ? octet | 0x20 : octet
                        }
                        return name.count
                    }
                    current = (String(decoding: name, as: UTF8.self), key, (colon + 1)..<lineEnd, nil)
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
        }
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
