import NIOCore
import Synchronization

/// A one-chunk hand-off between a producer task and a consumer task, so that one body can
/// feed several sessions at the pace of the slowest (backpressure, no buffering beyond one
/// chunk per consumer).
final class ChunkPipe: Sendable {
    private struct State {
        var slot: ByteBuffer?
        var end: Result<Void, any Error>?
        var consumerClosed = false
        var waitingConsumer: CheckedContinuation<ByteBuffer?, any Error>?
        var waitingProducer: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Hands `chunk` to the consumer and returns once it has taken it, or at once if the
    /// consumer has stopped reading.
    func send(_ chunk: ByteBuffer) async {
        await withCheckedContinuation { (producer: CheckedContinuation<Void, Never>) in
            state.withLock { state in
                if state.consumerClosed {
                    producer.resume()
                } else if let consumer = state.waitingConsumer {
                    state.waitingConsumer = nil
                    consumer.resume(returning: chunk)
                    producer.resume()
                } else {
                    state.slot = chunk
                    state.waitingProducer = producer
                }
            }
        }
    }

    /// The end of the body: `nil` for success, or the error the body failed with.
    func finish(_ error: (any Error)?) {
        state.withLock { state in
            let end: Result<Void, any Error> = error.map { .failure($0) } ?? .success(())
            state.end = end
            if let consumer = state.waitingConsumer {
                state.waitingConsumer = nil
                switch end {
                case .success: consumer.resume(returning: nil)
                case .failure(let error): consumer.resume(throwing: error)
                }
            }
        }
    }

    /// The consumer reads no more: the producer is never kept waiting again.
    func close() {
        state.withLock { state in
            state.consumerClosed = true
            state.slot = nil
            state.waitingProducer?.resume()
            state.waitingProducer = nil
        }
    }

    /// The next chunk, `nil` at the end.
    func next() async throws -> ByteBuffer? {
        try await withCheckedThrowingContinuation { (consumer: CheckedContinuation<ByteBuffer?, any Error>) in
            state.withLock { state in
                if let chunk = state.slot {
                    state.slot = nil
                    state.waitingProducer?.resume()
                    state.waitingProducer = nil
                    consumer.resume(returning: chunk)
                } else if let end = state.end {
                    switch end {
                    case .success: consumer.resume(returning: nil)
                    case .failure(let error): consumer.resume(throwing: error)
                    }
                } else {
                    state.waitingConsumer = consumer
                }
            }
        }
    }

    /// The pipe's chunks as a sequence, for ``SMTPServer/MessageBody/init(_:)``.
    struct Chunks: AsyncSequence {
        typealias Element = ByteBuffer
        let pipe: ChunkPipe

        struct AsyncIterator: AsyncIteratorProtocol {
            let pipe: ChunkPipe
            mutating func next() async throws -> ByteBuffer? { try await pipe.next() }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pipe: pipe) }
    }
}
