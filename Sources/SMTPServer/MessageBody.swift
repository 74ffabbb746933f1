import NIOCore
import SMTPCore

/// A message body as it arrives, chunk by chunk (DATA after dot-unstuffing, or the BDAT
/// chunks), read straight from the connection with backpressure: the server reads the socket
/// no faster than this sequence is consumed, so memory does not grow with the message.
///
/// The sequence throws `SMTPError` when the message breaks a rule that is only known
/// at its end (too large, bare CR/LF when refused), and `SMTPError/dataReset` when
/// the client aborts it (RSET between BDAT chunks, disconnection). It belongs to the session's
/// task and must not be iterated from elsewhere.
///
/// Backends that pass a message on after changing it (see the SMTPBackendUtilities module)
/// make a body of their own from any sequence of chunks with ``init(_:)``.
public struct MessageBody: AsyncSequence {
    /// Body chunks; slices of the connection's read buffers.
    public typealias Element = ByteBuffer

    enum Source {
        /// The connection's own body (the fast path: no type erasure).
        case connection(Connection)
        /// Any other sequence of chunks.
        case chunks(ChunkSource)
    }

    let source: Source

    init(connection: Connection) {
        self.source = .connection(connection)
    }

    /// A body whose chunks come from `chunks`, for a session that hands a transformed or copied
    /// message to another session. Its errors reach the reader as they are.
    public init<Chunks: AsyncSequence>(_ chunks: Chunks) where Chunks.Element == ByteBuffer {
        self.source = .chunks(IteratorSource(chunks.makeAsyncIterator()))
    }

    /// The iterator.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let source: Source

        /// The next chunk, or `nil` at the end of the message.
        public mutating func next() async throws -> ByteBuffer? {
            switch source {
            case .connection(let connection): try await connection.nextBodyChunk()
            case .chunks(let chunks): try await chunks.next()
            }
        }
    }

    /// Makes the iterator.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: source) }

    /// Reads the whole body into one buffer; throws `SMTPError/dataTooLarge` past
    /// `limit` octets (the rest is still read by the server). For tests and small messages.
    public func collect(upTo limit: Int) async throws -> ByteBuffer {
        var result = ByteBuffer()
        for try await chunk in self {
            guard result.readableBytes + chunk.readableBytes <= limit else { throw SMTPError.dataTooLarge }
            var chunk = chunk
            result.writeBuffer(&chunk)
        }
        return result
    }

    /// This body with `prefix` before its first chunk: new header fields, for instance
    /// (RFC 5322 §2.1: they belong before the existing ones).
    public func prepending(_ prefix: ByteBuffer) -> MessageBody {
        MessageBody(PrefixedChunks(prefix: prefix, body: self))
    }
}

/// A type-erased source of chunks; a class so that the body's iterator can be copied freely
/// and still advance one sequence.
class ChunkSource {
    func next() async throws -> ByteBuffer? { nil }
}

/// A ``ChunkSource`` over a concrete iterator.
final class IteratorSource<Iterator: AsyncIteratorProtocol>: ChunkSource where Iterator.Element == ByteBuffer {
    var iterator: Iterator

    init(_ iterator: Iterator) {
        self.iterator = iterator
    }

    override func next() async throws -> ByteBuffer? {
        try await iterator.next()
    }
}

/// A prefix, then a body.
struct PrefixedChunks: AsyncSequence {
    typealias Element = ByteBuffer
    let prefix: ByteBuffer
    let body: MessageBody

    struct AsyncIterator: AsyncIteratorProtocol {
        var prefix: ByteBuffer?
        var body: MessageBody.AsyncIterator

        mutating func next() async throws -> ByteBuffer? {
            if let prefix {
                self.prefix = nil
                if prefix.readableBytes > 0 { return prefix }
            }
            return try await body.next()
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(prefix: prefix, body: body.makeAsyncIterator()) }
}
