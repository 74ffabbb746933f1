import NIOCore

/// A server reply: a three-digit code, an optional enhanced status code and one or more lines
/// of text (RFC 5321 §4.2, RFC 2034 §4).
///
/// On the wire every line but the last is `code-text`, the last is `code text`, and each line
/// carries the enhanced code in front of its text when there is one (as Postfix does).
public struct Reply: Hashable, Sendable, CustomStringConvertible {
    /// The reply code, 200–599 for completion replies, 354 for "start mail input", 334 for
    /// SASL challenges, 220/221 for greeting and closing.
    public var code: Int
    /// The enhanced status code; see ``EnhancedCode/resolved(forReplyCode:)`` for what is sent.
    public var enhancedCode: EnhancedCode
    /// The text lines, never empty; a reply with no text has one empty line.
    public var lines: [String]

    /// Creates a reply from explicit lines.
    public init(code: Int, enhancedCode: EnhancedCode = .notSet, lines: [String]) {
        self.code = code
        self.enhancedCode = enhancedCode
        self.lines = lines.isEmpty ? [""] : lines
    }

    /// Creates a reply whose text is split into lines at `\n` (a trailing `\r` is dropped).
    public init(code: Int, enhancedCode: EnhancedCode = .notSet, text: String) {
        // Most replies are one line: no splitting, no new strings.
        let newline = UInt8(ascii: "\n")
        let multiLine = text.utf8.withContiguousStorageIfAvailable { $0.contains(newline) } ?? text.utf8.contains(newline)
        if !multiLine {
            var line = text
            if line.utf8.last == UInt8(ascii: "\r") { line.removeLast() }   // a CR is a Character of its own
            self.init(code: code, enhancedCode: enhancedCode, lines: [line])
            return
        }
        // Split on the octet, not the Character: "\r\n" is one Character and would not split.
        let lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line -> String in
            String(Substring(line.last == UInt8(ascii: "\r") ? line.dropLast() : line))
        }
        self.init(code: code, enhancedCode: enhancedCode, lines: lines)
    }

    /// Whether the code is 2xx.
    public var isPositiveCompletion: Bool { code >= 200 && code < 300 }
    /// Whether the code is 3xx (354 to DATA, 334 to AUTH).
    public var isPositiveIntermediate: Bool { code >= 300 && code < 400 }
    /// Whether the code is 4xx.
    public var isTransientFailure: Bool { code >= 400 && code < 500 }
    /// Whether the code is 5xx.
    public var isPermanentFailure: Bool { code >= 500 && code < 600 }

    /// The error this reply stands for; meaningful for 4xx and 5xx replies.
    public var error: SMTPError {
        SMTPError(code: code, enhancedCode: enhancedCode, message: lines.joined(separator: "\n"))
    }

    /// The lines joined by `separator`, for messages and logs.
    public func text(separator: String = "\n") -> String { lines.joined(separator: separator) }

    /// Appends the wire form to `buffer`.
    ///
    /// Characters that cannot appear in a reply line (CR, LF, NUL) are replaced by spaces so a
    /// backend's message can never inject a reply of its own.
    public func write(to buffer: inout ByteBuffer) {
        let enhanced = enhancedCode.resolved(forReplyCode: code)
        buffer.reserveCapacity(minimumWritableBytes: lines.reduce(0) { $0 + $1.utf8.count + 32 })
        // "250-2.1.5 " is built on the stack and written at once: a write per octet checked the
        // buffer's capacity and uniqueness every time.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 48) { prefix in
            for (index, line) in lines.enumerated() {
                var length = 0
                func append(_ byte: UInt8) {
                    prefix[length] = byte
                    length += 1
                }
                func appendNumber(_ value: Int) {
                    if value >= 10 { appendNumber(value / 10) }
                    append(UInt8(ascii: "0") + UInt8(value % 10))
                }
                // Reply codes and enhanced code parts are small non-negative numbers (the
                // initialisers keep them so); anything else is written as text.
                guard code >= 0, code < 1_000_000, enhanced.map({ $0.statusClass >= 0 && $0.subject >= 0 && $0.detail >= 0
                                                                  && $0.subject < 1_000_000 && $0.detail < 1_000_000 }) ?? true else {
                    buffer.writeString(String(code))
                    buffer.writeInteger(index == lines.count - 1 ? UInt8(ascii: " ") : UInt8(ascii: "-"))
                    if let enhanced { buffer.writeString("\(enhanced.statusClass).\(enhanced.subject).\(enhanced.detail)" + (line.isEmpty ? "" : " ")) }
                    Self.writeText(line, to: &buffer)
                    continue
                }
                appendNumber(code)
                append(index == lines.count - 1 ? UInt8(ascii: " ") : UInt8(ascii: "-"))
                if let enhanced {
                    appendNumber(enhanced.statusClass)
                    append(UInt8(ascii: "."))
                    appendNumber(enhanced.subject)
                    append(UInt8(ascii: "."))
                    appendNumber(enhanced.detail)
                    if !line.isEmpty { append(UInt8(ascii: " ")) }
                }
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(prefix)[..<length]))
                Self.writeText(line, to: &buffer)
            }
        }
    }

    /// One line's text and its CRLF; CR, LF and NUL in the text become spaces, so a reply can
    /// never end early or smuggle a second one.
    private static func writeText(_ line: String, to buffer: inout ByteBuffer) {
        func forbidden(_ byte: UInt8) -> Bool { byte == 0x0D || byte == 0x0A || byte == 0x00 }
        let utf8 = line.utf8
        // A native string's octets are contiguous: scanned as a buffer, not through the view.
        if utf8.withContiguousStorageIfAvailable({ $0.contains(where: forbidden) }) ?? utf8.contains(where: forbidden) {
            for byte in utf8 {
                buffer.writeInteger(forbidden(byte) ? UInt8(ascii: " ") : byte)
            }
        } else {
            buffer.writeString(line)
        }
        buffer.writeInteger(UInt16(0x0D0A))   // CRLF, big-endian
    }

    /// The wire form as a string, CRLF line endings included.
    public var encoded: String {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        write(to: &buffer)
        return String(buffer: buffer)
    }

    /// The wire form without the final CRLF, lines separated by CRLF.
    public var description: String {
        var text = encoded
        text.removeLast(1)
        return text
    }
}
