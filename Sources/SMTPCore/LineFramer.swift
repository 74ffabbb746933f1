import NIOCore

/// One result of ``LineFramer/next(_:)``.
public enum FramedLine: Hashable, Sendable {
    /// A complete line, without its line terminator.
    case line(ByteBuffer)
    /// A line longer than the limit ended; its bytes were discarded as they arrived and the
    /// framer is in sync again after its terminator (RFC 5321 §4.5.3.1.4).
    case tooLong
}

/// Splits a byte stream into lines incrementally, with a hard bound on line length
/// (RFC 5321 §2.3.8, §4.5.3.1).
///
/// The framer consumes from the caller's buffer only the bytes of the lines it returns, so
/// the bytes after a `DATA` or `BDAT` line stay in that buffer for the data decoder: command,
/// DATA and BDAT modes share one read buffer. It keeps at most `maximumLineLength` bytes of
/// an incomplete line; a longer line is dropped as it streams in and reported once, when its
/// terminator arrives.
public struct LineFramer: Sendable {
    /// The longest accepted line, counting its CRLF (RFC 5321 §4.5.3.1.4: 512 for commands).
    public let maximumLineLength: Int
    /// Whether a LF without a CR before it also ends a line. Off for commands, where RFC 5321
    /// §2.3.8 allows only CRLF; the bare LF then stays in the line and the parser rejects it.
    public let allowsBareLineFeed: Bool

    private var partial: ByteBuffer?
    private var discarding = false
    private var lastByteWasCarriageReturn = false

    /// Creates a framer.
    public init(maximumLineLength: Int = 512, allowsBareLineFeed: Bool = false) {
        precondition(maximumLineLength >= 2, "a line needs room for its CRLF")
        self.maximumLineLength = maximumLineLength
        self.allowsBareLineFeed = allowsBareLineFeed
    }

    /// Bytes of an incomplete line held by the framer.
    public var bufferedByteCount: Int { partial?.readableBytes ?? 0 }

    /// Whether the framer holds the beginning of a line (or is skipping an overlong one).
    public var isInsideLine: Bool { bufferedByteCount > 0 || discarding }

    /// Consumes bytes from `input` up to and including the next line terminator and returns
    /// that line, or consumes everything and returns `nil` when no terminator is there yet.
    public mutating func next(_ input: inout ByteBuffer) -> FramedLine? {
        let view = input.readableBytesView
        var searchStart = view.startIndex
        while let lf = view[searchStart...].firstIndex(of: UInt8(ascii: "\n")) {
            let crBefore: Bool
            if lf > view.startIndex {
                crBefore = view[lf - 1] == UInt8(ascii: "\r")
            } else if discarding {
                crBefore = lastByteWasCarriageReturn
            } else {
                crBefore = partial?.readableBytesView.last == UInt8(ascii: "\r")
            }
            guard crBefore || allowsBareLineFeed else {
                searchStart = lf + 1
                continue
            }
            let consumed = lf - view.startIndex + 1
            if discarding {
                input.moveReaderIndex(forwardBy: consumed)
                discarding = false
                lastByteWasCarriageReturn = false
                return .tooLong
            }
            let total = (partial?.readableBytes ?? 0) + consumed
            if total > maximumLineLength {
                input.moveReaderIndex(forwardBy: consumed)
                partial = nil
                return .tooLong
            }
            // A terminator we read: CRLF (2 bytes) or bare LF (1 byte).
            let terminatorLength = crBefore ? 2 : 1
            guard var line = partial else {
                // Fast path: the whole line is inside `input`.
                let slice = input.readSlice(length: consumed)!
                return .line(slice.getSlice(at: slice.readerIndex, length: consumed - terminatorLength)!)
            }
            var chunk = input.readSlice(length: consumed)!
            line.writeBuffer(&chunk)
            partial = nil
            line.moveWriterIndex(to: line.writerIndex - terminatorLength)
            return .line(line)
        }
        // No terminator in what we have: keep it (bounded) or drop it.
        let count = input.readableBytes
        guard count > 0 else { return nil }
        if discarding {
            lastByteWasCarriageReturn = view.last == UInt8(ascii: "\r")
            input.moveReaderIndex(forwardBy: count)
            return nil
        }
        // A line of maximumLineLength bytes may still be waiting for the LF of its CRLF.
        if (partial?.readableBytes ?? 0) + count >= maximumLineLength {
            lastByteWasCarriageReturn = view.last == UInt8(ascii: "\r")
            discarding = true
            partial = nil
            input.moveReaderIndex(forwardBy: count)
            return nil
        }
        var chunk = input.readSlice(length: count)!
        if partial == nil {
            // Own the bytes rather than keep a slice of the caller's (possibly large) buffer.
            partial = ByteBufferAllocator().buffer(capacity: min(maximumLineLength, 2 * count))
        }
        partial!.writeBuffer(&chunk)
        return nil
    }
}
