import Foundation

/// The parts of a MIME message (RFC 2045, RFC 2046) as the body test reads them (RFC 5173 §5):
/// each leaf with its content type and its content decoded from its transfer encoding and,
/// for text, from its charset.
enum MIMEParts {
    struct Part {
        /// `type/subtype`, lower-cased; `text/plain` when absent (RFC 2045 §5.2).
        var contentType: String
        /// The decoded content (text parts decoded to UTF-8 text; others as octets).
        var content: [UInt8]
        /// Whether it is a multipart's container rather than a leaf.
        var isMultipart: Bool
    }

    /// The leaves and containers of a message whose top-level header fields are `fields` and
    /// body is `body`, depth-first; at most `deepest` levels of multipart are opened.
    static func parts(fields: [SieveMessage.Field], body: [UInt8], deepest: Int = 10) -> [Part] {
        var result: [Part] = []
        walk(fields: fields, body: body, depth: 0, deepest: deepest, into: &result)
        return result
    }

    private static func header(_ name: String, in fields: [SieveMessage.Field]) -> String? {
        fields.first { $0.key == name }?.value
    }

    /// `type/subtype` and the parameters of a Content-Type value.
    static func contentType(_ value: String?) -> (type: String, parameters: [String: String]) {
        guard let value else { return ("text/plain", [:]) }
        let pieces = value.split(separator: ";", omittingEmptySubsequences: false)
        let type = pieces.first.map { $0.trimmingSpaces.lowercased() } ?? ""
        var parameters: [String: String] = [:]
        for piece in pieces.dropFirst() {
            guard let equals = piece.firstIndex(of: "=") else { continue }
            let name = piece[..<equals].trimmingSpaces.lowercased()
            var parameter = piece[piece.index(after: equals)...].trimmingSpaces
            if parameter.hasPrefix("\"") && parameter.hasSuffix("\"") && parameter.count >= 2 {
                parameter = String(parameter.dropFirst().dropLast())
            }
            parameters[name] = parameter
        }
        return (type.utf8.contains(UInt8(ascii: "/")) ? type : "text/plain", parameters)
    }

    private static func walk(fields: [SieveMessage.Field], body: [UInt8], depth: Int, deepest: Int, into result: inout [Part]) {
        let (type, parameters) = contentType(header("content-type", in: fields))
        if type.hasPrefix("multipart/"), depth < deepest, let boundary = parameters["boundary"], !boundary.isEmpty {
            let (parts, outside) = split(body, boundary: boundary)
            result.append(Part(contentType: type, content: outside, isMultipart: true))
            for part in parts {
                let parsed = SieveMessage(part, envelopeFrom: "", envelopeTo: "")
                walk(fields: parsed.fields, body: parsed.body, depth: depth + 1, deepest: deepest, into: &result)
            }
            return
        }
        if type == "message/rfc822", depth < deepest {
            result.append(Part(contentType: type, content: body, isMultipart: true))
            let inner = SieveMessage(body, envelopeFrom: "", envelopeTo: "")
            walk(fields: inner.fields, body: inner.body, depth: depth + 1, deepest: deepest, into: &result)
            return
        }
        var content = decodeTransfer(body, encoding: header("content-transfer-encoding", in: fields)?.trimmingSpaces.lowercased())
        if type.hasPrefix("text/"), let charset = parameters["charset"]?.lowercased(), charset != "utf-8", charset != "us-ascii",
           let text = HeaderDecoding.decode(content, charset: charset) {
            content = Array(text.utf8)
        }
        result.append(Part(contentType: type, content: content, isMultipart: false))
    }

    /// The bodies between `--boundary` lines (RFC 2046 §5.1.1), and the preamble and epilogue
    /// together.
    static func split(_ body: [UInt8], boundary: String) -> (parts: [[UInt8]], outside: [UInt8]) {
        let delimiter = Array(("--" + boundary).utf8)
        var parts: [[UInt8]] = []
        var current: [UInt8]?
        var outside: [UInt8] = []
        var closed = false
        var index = 0
        while index < body.count {
            var end = index
            while end < body.count, body[end] != 0x0A { end += 1 }
            let lineEnd = min(end + 1, body.count)
            var line = body[index..<end]
            if line.last == 0x0D { line = line.dropLast() }
            let rest = line.dropFirst(delimiter.count)
            // A delimiter line is the boundary and then `--`, or only white space (RFC 2046 §5.1.1).
            if line.starts(with: delimiter),
               rest.starts(with: [UInt8(ascii: "-"), UInt8(ascii: "-")]) || rest.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                if let open = current {
                    // The CRLF before the delimiter belongs to the delimiter.
                    var finished = open
                    if finished.last == 0x0A { finished.removeLast() }
                    if finished.last == 0x0D { finished.removeLast() }
                    parts.append(finished)
                }
                current = nil
                if rest.starts(with: [UInt8(ascii: "-"), UInt8(ascii: "-")]) { closed = true } else { current = [] }
            } else if current != nil && !closed {
                current! += body[index..<lineEnd]
            } else {
                outside += body[index..<lineEnd]
            }
            index = lineEnd
        }
        if let open = current { parts.append(open) }
        return (parts, outside)
    }

    /// Content decoded from `base64` or `quoted-printable` (RFC 2045 §6); other encodings as is.
    static func decodeTransfer(_ body: [UInt8], encoding: String?) -> [UInt8] {
        switch encoding {
        case "base64":
            return Data(base64Encoded: Data(body), options: .ignoreUnknownCharacters).map(Array.init) ?? body
        case "quoted-printable":
            var decoded: [UInt8] = []
            decoded.reserveCapacity(body.count)
            var index = 0
            while index < body.count {
                let byte = body[index]
                if byte == UInt8(ascii: "="), index + 1 < body.count {
                    // A soft line break: `=` at the end of a line.
                    if body[index + 1] == 0x0A { index += 2; continue }
                    if body[index + 1] == 0x0D, index + 2 < body.count, body[index + 2] == 0x0A { index += 3; continue }
                    if index + 2 < body.count, let value = UInt8(String(decoding: body[(index + 1)...(index + 2)], as: UTF8.self), radix: 16) {
                        decoded.append(value)
                        index += 3
                        continue
                    }
                }
                decoded.append(byte)
                index += 1
            }
            return decoded
        default:
            return body
        }
    }
}
