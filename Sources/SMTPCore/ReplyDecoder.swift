import NIOCore

/// Why a server's reply could not be understood.
public enum ReplyDecodingError: Error, Hashable, Sendable {
    /// A line did not start with three digits followed by space, hyphen or the end.
    case malformedLine(String)
    /// A continuation line carried a different code from the first line.
    case inconsistentCode(expected: Int, found: Int)
    /// A line, or the number of lines, exceeded the decoder's limits.
    case tooLong
}

/// Incrementally decodes replies from a server's byte stream (RFC 5321 §4.2).
///
/// Feed it whatever arrives; it returns each complete (possibly multi-line) reply once its last
/// line is in. The enhanced status code is recognised only when the first line carries one of
/// the reply's class (RFC 2034 §4); it is then removed from every line that repeats it.
public struct ReplyDecoder: Sendable {
    private var framer: LineFramer
    private var pending: [String] = []
    private var pendingCode: Int?
    private let maximumLines: Int

    /// Creates a decoder; lines longer than `maximumLineLength` or replies with more than
    /// `maximumLines` lines are errors.
    public init(maximumLineLength: Int = 4096, maximumLines: Int = 1000) {
        self.framer = LineFramer(maximumLineLength: maximumLineLength, allowsBareLineFeed: true)
        self.maximumLines = maximumLines
    }

    /// Bytes received but not yet part of a complete reply (used to detect STARTTLS response
    /// injection, RFC 3207 §5 / CVE-2011-0411).
    public var bufferedByteCount: Int { framer.bufferedByteCount }

    /// Whether a multi-line reply has started but not finished.
    public var isInsideReply: Bool { pendingCode != nil }

    /// Consumes bytes from `buffer` and returns the next complete reply, or `nil` when more
    /// bytes are needed. Call again until it returns `nil` to drain pipelined replies.
    public mutating func decode(_ buffer: inout ByteBuffer) throws(ReplyDecodingError) -> Reply? {
        while true {
            let line: ByteBuffer
            switch framer.next(&buffer) {
            case .none:
                return nil
            case .some(.line(let complete)):
                line = complete
            case .some(.tooLong):
                throw .tooLong
            }
            if let reply = try feed(line: String(decoding: line.readableBytesView, as: UTF8.self)) {
                return reply
            }
        }
    }

    /// Feeds one line without its CRLF; returns the reply when this was its last line.
    public mutating func feed(line: String) throws(ReplyDecodingError) -> Reply? {
        let utf8 = Array(line.utf8.prefix(4))
        guard utf8.count >= 3, utf8[0] >= 0x32, utf8[0] <= 0x35,
              utf8[1] >= 0x30, utf8[1] <= 0x35, utf8[2] >= 0x30, utf8[2] <= 0x39 else {
            throw .malformedLine(line)
        }
        let code = Int(utf8[0] - 0x30) * 100 + Int(utf8[1] - 0x30) * 10 + Int(utf8[2] - 0x30)
        let isLast: Bool
        if utf8.count == 3 || utf8[3] == UInt8(ascii: " ") {
            isLast = true
        } else if utf8[3] == UInt8(ascii: "-") {
            isLast = false
        } else {
            throw .malformedLine(line)
        }
        if let pendingCode, pendingCode != code {
            throw .inconsistentCode(expected: pendingCode, found: code)
        }
        pendingCode = code
        pending.append(String(line.dropFirst(utf8.count == 3 ? 3 : 4)))
        guard pending.count <= maximumLines else { throw .tooLong }
        guard isLast else { return nil }
        let lines = pending
        pending = []
        pendingCode = nil
        return Self.reply(code: code, rawLines: lines)
    }

    private static func reply(code: Int, rawLines: [String]) -> Reply {
        guard let (enhanced, _) = EnhancedCode.parsePrefix(Substring(rawLines[0])),
              enhanced.statusClass == code / 100 else {
            return Reply(code: code, enhancedCode: .omitted, lines: rawLines)
        }
        let prefix = enhanced.description
        let lines = rawLines.map { line -> String in
            guard line.hasPrefix(prefix) else { return line }
            let rest = line.dropFirst(prefix.count)
            if rest.isEmpty { return "" }
            guard rest.first == " " else { return line }
            return String(rest.dropFirst())
        }
        return Reply(code: code, enhancedCode: enhanced, lines: lines)
    }
}
