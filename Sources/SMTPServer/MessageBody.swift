import NIOCore
import SMTPCore

/// A message body as it arrives, chunk by chunk (DATA after dot-unstuffing, or the BDAT
/// chunks), read straight from the connection with backpressure: the server reads the socket
/// no faster than this sequence is consumed, so memory does not grow with the message.
///
/// The sequence throws ``SMTPCore/SMTPError`` when the message breaks a rule that is only known
/// at its end (too large, bare CR/LF when refused), and ``SMTPCore/SMTPError/dataReset`` when
/// the client aborts it (RSET between BDAT chunks, disconnection). It belongs to the session's
/// task and must not be iterated from elsewhere.
public struct MessageBody: AsyncSequence {
    /// Body chunks; slices of the connection's read buffers.
    public typealias Element = ByteBuffer

    let source: Connection

    /// The iterator.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let source: Connection

        /// The next chunk, or `nil` at the end of the message.
        public mutating func next() async throws -> ByteBuffer? {
            try await source.nextBodyChunk()
        }
    }

    /// Makes the iterator.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: source) }

    /// Reads the whole body into one buffer; throws ``SMTPCore/SMTPError/dataTooLarge`` past
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
}
