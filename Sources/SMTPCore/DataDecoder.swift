import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How the DATA stream ended.
public enum DataEnd: Hashable, Sendable {
    /// `<CRLF>.<CRLF>` arrived and the body is acceptable.
    case complete
    /// `<CRLF>.<CRLF>` arrived, but the body broke a rule (too large, bare CR/LF when those
    /// are refused). All of it was consumed, so the session is in sync for the next command.
    case failed(SMTPError)
}

/// Turns the dot-stuffed DATA stream (RFC 5321 §4.1.1.4, §4.5.2) into body chunks,
/// incrementally and without holding the message.
///
/// - Only `<CRLF>.<CRLF>` ends the data; the start of the data counts as the start of a line.
/// - A leading dot is removed only at the start of a line, i.e. right after CRLF.
/// - A bare CR or a bare LF never starts a line and never ends anything: `<LF>.<LF>`,
///   `<CR><LF>.<LF>`, `<LF>.<CR><LF>`, `<CR>.<CR>` and the other SMTP smuggling sequences are
///   body bytes. With ``rejectBareLineEndings`` their presence fails the message instead.
/// - The size limit is checked while streaming; past it, the decoder stops emitting and keeps
///   looking for the real end so the session stays in sync.
///
/// Body chunks are slices of the input buffer where possible (no copy).
public struct DataDecoder: Sendable {
    /// The largest body accepted, in octets after dot-unstuffing; `nil` for no limit.
    public let maximumBytes: Int?
    /// Whether a body containing a bare CR or LF fails with ``ServerReplies/bareLineEnding``.
    public let rejectBareLineEndings: Bool

    private enum State: Sendable {
        case lineStart
        case inLine
        case carriageReturn
        case dotAtLineStart
        case dotCarriageReturn
        case finished
    }

    private var state: State = .lineStart
    /// Body octets emitted (or, once over the limit, that would have been).
    public private(set) var byteCount = 0
    /// Whether a bare CR or LF has been seen.
    public private(set) var sawBareLineEnding = false
    private var tooLarge = false

    /// Creates a decoder positioned right after the CRLF of the DATA command.
    public init(maximumBytes: Int? = nil, rejectBareLineEndings: Bool = false) {
        self.maximumBytes = maximumBytes
        self.rejectBareLineEndings = rejectBareLineEndings
    }

    private var suppressing: Bool { tooLarge || (rejectBareLineEndings && sawBareLineEnding) }

    private static let carriageReturnBuffer: ByteBuffer = {
        var buffer = ByteBufferAllocator().buffer(capacity: 1)
        buffer.writeInteger(UInt8(ascii: "\r"))
        return buffer
    }()

    /// Consumes bytes from `input`, passing body chunks to `body`. Returns how the data ended
    /// once `<CRLF>.<CRLF>` has been consumed (the bytes after it stay in `input`), or `nil`
    /// when all of `input` was consumed and more is needed.
    public mutating func decode(_ input: inout ByteBuffer, body: (ByteBuffer) throws -> Void) rethrows -> DataEnd? {
        guard state != .finished else { return end }
        let count = input.readableBytes
        guard count > 0 else { return nil }
        let base = input.readerIndex
        var index = 0
        var runStart = 0
        var ended = false

        try input.withUnsafeReadableBytes { bytes in
            let pointer = bytes.baseAddress!
            scanning: while index < count {
                switch state {
                case .inLine:
                    // Fast path: jump to the next LF, then check for CRs before it.
                    let remaining = count - index
                    let lf = memchr(pointer + index, 0x0A, remaining).map { UnsafeRawPointer($0) - pointer } ?? count
                    let cr = memchr(pointer + index, 0x0D, lf - index).map { UnsafeRawPointer($0) - pointer }
                    if let cr {
                        if lf < count && cr == lf - 1 {
                            // Well-formed CRLF; the first CR is the one before the LF.
                            index = lf + 1
                            state = .lineStart
                        } else if cr == count - 1 {
                            index = count
                            state = .carriageReturn
                        } else {
                            // A CR followed by neither LF nor the end of input: bare.
                            sawBareLineEnding = true
                            index = cr + 1
                        }
                    } else if lf < count {
                        sawBareLineEnding = true
                        index = lf + 1
                    } else {
                        index = count
                    }
                case .carriageReturn:
                    let byte = bytes[index]
                    if byte == 0x0A {
                        index += 1
                        state = .lineStart
                    } else {
                        sawBareLineEnding = true
                        if byte == 0x0D {
                            index += 1
                        } else {
                            state = .inLine
                        }
                    }
                case .lineStart:
                    if bytes[index] == UInt8(ascii: ".") {
                        try emit(input, base: base, from: runStart, to: index, body)
                        index += 1
                        runStart = index
                        state = .dotAtLineStart
                    } else {
                        state = .inLine
                    }
                case .dotAtLineStart:
                    if bytes[index] == 0x0D {
                        index += 1
                        runStart = index
                        state = .dotCarriageReturn
                    } else {
                        // RFC 5321 §4.5.2: the dot at the start of a line is removed.
                        state = .inLine
                    }
                case .dotCarriageReturn:
                    if bytes[index] == 0x0A {
                        index += 1
                        state = .finished
                        ended = true
                        break scanning
                    }
                    // `.` CR not followed by LF: the dot goes, the CR is a bare CR of the body.
                    sawBareLineEnding = true
                    try emitBuffer(Self.carriageReturnBuffer, body)
                    state = .inLine
                case .finished:
                    break scanning
                }
            }
        }
        if !ended {
            // Everything scanned is body except a held `.` or `.` CR, which `runStart` excludes.
            try emit(input, base: base, from: runStart, to: index, body)
        }
        input.moveReaderIndex(forwardBy: index)
        return ended ? end : nil
    }

    /// How the data ended, once it has.
    private var end: DataEnd {
        if tooLarge { return .failed(SMTPError.dataTooLarge) }
        if rejectBareLineEndings && sawBareLineEnding { return .failed(ServerReplies.bareLineEnding.error) }
        return .complete
    }

    /// Whether `<CRLF>.<CRLF>` has been consumed.
    public var isFinished: Bool { state == .finished }

    private mutating func emit(_ input: ByteBuffer, base: Int, from start: Int, to end: Int,
                               _ body: (ByteBuffer) throws -> Void) rethrows {
        guard end > start else { return }
        try emitBuffer(input.getSlice(at: base + start, length: end - start)!, body)
    }

    private mutating func emitBuffer(_ chunk: ByteBuffer, _ body: (ByteBuffer) throws -> Void) rethrows {
        byteCount += chunk.readableBytes
        if let maximumBytes, byteCount > maximumBytes { tooLarge = true }
        guard !suppressing else { return }
        try body(chunk)
    }
}

/// Reads exactly the octets of one BDAT chunk (RFC 3030 §2) from the shared input buffer.
public struct ChunkReader: Hashable, Sendable {
    /// Octets of the chunk not read yet.
    public private(set) var remaining: Int

    /// Creates a reader for a chunk of `size` octets.
    public init(size: Int) {
        self.remaining = size
    }

    /// Whether the whole chunk has been read.
    public var isComplete: Bool { remaining == 0 }

    /// Takes up to the rest of the chunk from `input` (a slice, no copy); `nil` when `input`
    /// is empty or the chunk is complete. Bytes after the chunk stay in `input`.
    public mutating func next(_ input: inout ByteBuffer) -> ByteBuffer? {
        let length = min(remaining, input.readableBytes)
        guard length > 0 else { return nil }
        remaining -= length
        return input.readSlice(length: length)
    }
}
