import NIOCore

/// The transfer of one message's body, DATA's dot-terminated text (RFC 5321 §4.1.1.4) or BDAT
/// chunks (RFC 3030 §2), without I/O: given the connection's input, it says what comes next —
/// a piece of the body for the backend, the need for more input, the body's end — and it
/// decides what a command between two BDAT chunks does to the message. The server's connection
/// carries out each ``Action`` and feeds back what happens.
///
/// Alongside ``ServerStateMachine``, which owns the session's phases and replies, this owns
/// only the body: once the message's end (or its failure) has been reported and the backend
/// has read to the end, it is spent.
public struct MessageTransfer: Sendable {
    /// Where the body stands.
    private enum Mode: Sendable {
        /// No message: the body is empty.
        case idle
        /// DATA: the decoder un-stuffs dots and finds the end.
        case data(DataDecoder)
        /// A BDAT chunk being read; `last` when it is BDAT … LAST.
        case chunk(ChunkReader, last: Bool)
        /// A chunk was read whole and more are to come: the next command decides
        /// (``commandBetweenChunks(_:stillReceivingChunks:)``).
        case betweenChunks
        /// The body ended (completely, or with ``failure``).
        case ended
    }

    private var mode: Mode
    /// Decoded pieces of DATA not yet handed on, from ``decoded`` index on.
    private var decoded: [ByteBuffer] = []
    private var decodedIndex = 0
    /// Why the body failed: a rule broken (too large, a bare line ending), the message ended by
    /// a command between chunks, or the connection lost.
    public private(set) var failure: SMTPError?
    /// Whether ``failure`` was already thrown to the backend's reader.
    private var failureReported = false
    /// Whether the state machine already ended the transaction (a refused chunk, or a command
    /// between chunks): then no outcome is reported for the message.
    public private(set) var endedByProtocol = false
    /// A command that arrived between BDAT chunks and ended the message: the connection carries
    /// it out once the backend has returned.
    public private(set) var pendingAction: ServerAction?
    /// Octets of the body handed to the backend so far.
    public private(set) var octets = 0

    /// No message in transfer.
    public init() {
        mode = .idle
    }

    /// A DATA body, read by `decoder`.
    public init(data decoder: DataDecoder) {
        mode = .data(decoder)
    }

    /// A body of BDAT chunks, beginning with one of `size` octets (`last` for BDAT … LAST).
    public init(chunk size: Int, last: Bool) {
        mode = .chunk(ChunkReader(size: size), last: last)
    }

    /// Whether no message is being received (the server may close between commands).
    public var isIdle: Bool {
        if case .idle = mode { return true }
        return false
    }

    /// What the connection does next for the backend's reader.
    public enum Action {
        /// Hand this piece of the body to the backend.
        case piece(ByteBuffer)
        /// Nothing more can be done until more input has arrived.
        case readMore
        /// The body just reached its end, complete or with ``failure``: the connection flushes
        /// its replies and lets per-recipient replies go out, then asks again.
        case reachedEnd
        /// A BDAT chunk was read whole and another is to come: the connection acknowledges it
        /// (``ServerStateMachine/chunkProcessed()``) and reads commands for
        /// ``commandBetweenChunks(_:stillReceivingChunks:)`` until the transfer goes on or ends.
        case chunkComplete
        /// Throw this to the backend's reader: the body failed.
        case fail(SMTPError)
        /// The body is over.
        case finished
    }

    /// The next step, consuming what it can of `input`.
    public mutating func next(_ input: inout ByteBuffer) -> Action {
        while true {
            if decodedIndex < decoded.count {
                let piece = decoded[decodedIndex]
                decodedIndex += 1
                octets += piece.readableBytes
                return .piece(piece)
            }
            decoded.removeAll(keepingCapacity: true)
            decodedIndex = 0
            switch mode {
            case .idle, .ended:
                if let failure, !failureReported {
                    failureReported = true
                    return .fail(failure)
                }
                return .finished
            case .data(var decoder):
                let end = decoder.decode(&input) { decoded.append($0) }
                mode = .data(decoder)
                if let end {
                    mode = .ended
                    if case .failed(let error) = end { failure = error }
                    return .reachedEnd
                }
                if decoded.isEmpty { return .readMore }
            case .chunk(var reader, let last):
                if let slice = reader.next(&input) {
                    mode = .chunk(reader, last: last)
                    octets += slice.readableBytes
                    return .piece(slice)
                }
                guard reader.isComplete else { return .readMore }
                if last {
                    mode = .ended
                    return .reachedEnd
                }
                mode = .betweenChunks
                return .chunkComplete
            case .betweenChunks:
                return .chunkComplete
            }
        }
    }

    /// What a command between two BDAT chunks does to the message.
    public enum BetweenChunks: Hashable, Sendable {
        /// Another BDAT: the transfer goes on with its chunk.
        case nextChunk
        /// A command answered without ending the transaction (NOOP, or an error such as RCPT
        /// between chunks): send the reply and read the next command.
        case answer(Reply)
        /// A BDAT the state machine refused: read and drop `size` octets, send `replies`; the
        /// message ended with the first reply's error.
        case discard(size: Int, replies: [Reply])
        /// A command that ends the transaction (RSET, EHLO, QUIT, too many errors): the message
        /// is aborted (``ServerStateMachine/messageAborted()``) and the body ends with a data
        /// reset (go-smtp's `ErrDataReset`); the command (``pendingAction``) is carried
        /// out after the backend has returned.
        case abort
    }

    /// Decides what `action` — the state machine's answer to a command read between chunks —
    /// does to the message. `stillReceivingChunks`: the state machine is still in its chunk
    /// phase after the command (a reply that left it elsewhere ended the transaction).
    public mutating func commandBetweenChunks(_ action: ServerAction, stillReceivingChunks: Bool) -> BetweenChunks {
        switch action {
        case .receiveChunk(let size, let last):
            mode = .chunk(ChunkReader(size: size), last: last)
            return .nextChunk
        case .discardChunk(let size, let replies, _):
            end(byProtocol: replies.first.map(\.error) ?? SMTPError.dataReset)
            return .discard(size: size, replies: replies)
        case .reply(let reply) where stillReceivingChunks:
            return .answer(reply)
        default:
            end(byProtocol: SMTPError.dataReset)
            pendingAction = action
            return .abort
        }
    }

    /// The connection ended (closed, timed out) while the body was read: the body ends with
    /// `failure`, which the connection throws to the backend's reader itself.
    public mutating func connectionEnded(_ failure: SMTPError) {
        mode = .ended
        self.failure = failure
        failureReported = true
    }

    /// Takes the command that ended the message between chunks, to carry it out.
    public mutating func takePendingAction() -> ServerAction? {
        defer { pendingAction = nil }
        return pendingAction
    }

    private mutating func end(byProtocol failure: SMTPError) {
        mode = .ended
        endedByProtocol = true
        self.failure = failure
    }
}
