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
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
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
        for (index, line) in lines.enumerated() {
            Self.writeNumber(code, to: &buffer)
            buffer.writeInteger(index == lines.count - 1 ? UInt8(ascii: " ") : UInt8(ascii: "-"))
            if let enhanced {
                Self.writeNumber(enhanced.statusClass, to: &buffer)
                buffer.writeInteger(UInt8(ascii: "."))
                Self.writeNumber(enhanced.subject, to: &buffer)
                buffer.writeInteger(UInt8(ascii: "."))
                Self.writeNumber(enhanced.detail, to: &buffer)
                if !line.isEmpty { buffer.writeInteger(UInt8(ascii: " ")) }
            }
            let utf8 = line.utf8
            if utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) {
                for byte in utf8 {
                    buffer.writeInteger(byte == 0x0D || byte == 0x0A || byte == 0x00 ? UInt8(ascii: " ") : byte)
                }
            } else {
                buffer.writeBytes(utf8)
            }
            buffer.writeInteger(UInt8(ascii: "\r"))
            buffer.writeInteger(UInt8(ascii: "\n"))
        }
    }

    /// Writes a small non-negative number in decimal without making a string.
    private static func writeNumber(_ value: Int, to buffer: inout ByteBuffer) {
        guard value >= 0 else {
            buffer.writeString(String(value))
            return
        }
        if value >= 10 { writeNumber(value / 10, to: &buffer) }
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(value % 10))
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
