import NIOCore

/// Prepares a message for DATA on the client side (RFC 5321 §4.5.2): every line ends in CRLF
/// (a bare LF or bare CR becomes CRLF, so the client never sends a smuggling sequence), a dot
/// at the start of a line is doubled, and ``finish(into:)`` adds the final CRLF if missing and
/// the terminating `.` CRLF. Works chunk by chunk without holding the message.
public struct DataEncoder: Sendable {
    private var atLineStart = true
    private var afterCarriageReturn = false
    private var finished = false

    /// Creates an encoder for one message.
    public init() {}

    /// Appends the encoded form of `chunk` to `output`.
    public mutating func encode(_ chunk: ByteBuffer, into output: inout ByteBuffer) {
        precondition(!finished, "DataEncoder used after finish(into:)")
        chunk.withUnsafeReadableBytes { bytes in
            var runStart = 0
            func flush(_ end: Int) {
                if end > runStart { output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<end])) }
            }
            for (index, byte) in bytes.enumerated() {
                if afterCarriageReturn {
                    afterCarriageReturn = false
                    if byte == 0x0A {                      // the LF of a CRLF already written
                        runStart = index + 1
                        continue
                    }
                }
                switch byte {
                case 0x0D:
                    flush(index)
                    output.writeStaticString("\r\n")
                    afterCarriageReturn = true
                    atLineStart = true
                    runStart = index + 1
                case 0x0A:
                    flush(index)
                    output.writeStaticString("\r\n")
                    atLineStart = true
                    runStart = index + 1
                case UInt8(ascii: ".") where atLineStart:
                    flush(index)
                    output.writeStaticString(".")
                    runStart = index                       // the dot itself goes out with the run
                    atLineStart = false
                default:
                    atLineStart = false
                }
            }
            flush(bytes.count)
        }
    }

    /// Appends the end of the message: CRLF if the last line is unterminated, then `.` CRLF.
    public mutating func finish(into output: inout ByteBuffer) {
        if !atLineStart { output.writeStaticString("\r\n") }
        output.writeStaticString(".\r\n")
        finished = true
    }
}
