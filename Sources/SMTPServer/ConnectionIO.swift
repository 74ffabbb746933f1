import NIOCore
import Synchronization

/// The bridge between a connection's channel and the task that serves it: the channel's last
/// handler pushes ``InboundEvent``s in, the task pulls them out one at a time and writes its
/// replies straight to the channel.
///
/// It replaces `NIOAsyncChannel`, which does the same job generically: its sequence producer
/// and writer cost a lock, a state machine and generic metadata look-ups per event, several
/// times per SMTP round trip. Here an event costs one uncontended lock and, only when the task
/// is waiting, one continuation. Backpressure works the same way: once more than
/// ``highWatermark`` octets wait unread, the channel stops reading from the socket until the
/// task has taken them below ``lowWatermark``; a write waits while the channel is not writable.
final class ConnectionIO: Sendable {
    /// Unread octets above which the socket is no longer read.
    static let highWatermark = 256 * 1024
    /// Unread octets below which reading resumes.
    static let lowWatermark = 64 * 1024

    private struct State {
        var events = CircularBuffer<InboundEvent>(initialCapacity: 4)
        var bufferedBytes = 0
        /// The task waiting for the next event.
        var reader: UnsafeContinuation<InboundEvent?, any Error>?
        /// The task waiting for the channel to become writable.
        var writer: UnsafeContinuation<Void, any Error>?
        /// The channel is closed; queued events are still delivered first.
        var ended = false
        var cancelled = false
        /// A read the pipeline asked for while too much was buffered.
        var heldRead = false
        var writable = true
    }

    /// The channel served.
    let channel: any Channel
    private let state = Mutex(State())

    init(channel: any Channel) {
        self.channel = channel
    }

    // MARK: - Channel side (called on the event loop)

    /// Queues an event for the task, waking it if it waits.
    func push(_ event: InboundEvent) {
        let reader = state.withLock { state -> UnsafeContinuation<InboundEvent?, any Error>? in
            if let reader = state.reader {
                state.reader = nil
                return reader
            }
            if case .bytes(let bytes) = event { state.bufferedBytes += bytes.readableBytes }
            state.events.append(event)
            return nil
        }
        reader?.resume(returning: event)
    }

    /// Whether the pipeline's read request may go to the socket now; if not, it is remembered
    /// and issued once the task has caught up.
    func mayRead() -> Bool {
        state.withLock { state in
            if state.bufferedBytes > Self.highWatermark {
                state.heldRead = true
                return false
            }
            return true
        }
    }

    /// The channel's writability changed.
    func writabilityChanged(_ writable: Bool) {
        let writer = state.withLock { state -> UnsafeContinuation<Void, any Error>? in
            state.writable = writable
            guard writable else { return nil }
            defer { state.writer = nil }
            return state.writer
        }
        writer?.resume()
    }

    /// The channel closed: the task sees the events still queued, then the end.
    func end() {
        let (reader, writer) = state.withLock { state in
            state.ended = true
            defer { state.reader = nil; state.writer = nil }
            return (state.reader, state.writer)
        }
        reader?.resume(returning: nil)
        writer?.resume(throwing: ChannelError.ioOnClosedChannel)
    }

    // MARK: - Task side

    /// The next event, or `nil` once the channel is closed and every event was taken.
    func next() async throws -> InboundEvent? {
        switch try take(waiting: nil) {
        case .event(let event): return event
        case .end: return nil
        case .waiting: break
        }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<InboundEvent?, any Error>) in
                do {
                    switch try take(waiting: continuation) {
                    case .event(let event): continuation.resume(returning: event)
                    case .end: continuation.resume(returning: nil)
                    case .waiting: break
                    }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            let reader = state.withLock { state in
                state.cancelled = true
                defer { state.reader = nil }
                return state.reader
            }
            reader?.resume(throwing: CancellationError())
        }
    }

    private enum Taken {
        case event(InboundEvent)
        case end
        /// Nothing queued; `reader`, when given, was stored to be resumed by the channel.
        case waiting
    }

    /// Takes the first queued event, re-arming a held read once the queue has drained enough;
    /// with nothing queued, stores `reader` (if any) to be woken by ``push(_:)`` or ``end()``.
    private func take(waiting reader: UnsafeContinuation<InboundEvent?, any Error>?) throws -> Taken {
        let (taken, resumeReading) = try state.withLock { state -> (Taken, Bool) in
            if let event = state.events.popFirst() {
                if case .bytes(let bytes) = event { state.bufferedBytes -= bytes.readableBytes }
                let resume = state.heldRead && state.bufferedBytes < Self.lowWatermark
                if resume { state.heldRead = false }
                return (.event(event), resume)
            }
            if state.ended { return (.end, false) }
            if state.cancelled { throw CancellationError() }
            if let reader { state.reader = reader }
            return (.waiting, false)
        }
        if resumeReading { channel.read() }
        return taken
    }

    /// Writes and flushes `message`; waits while the channel is not writable (the client does
    /// not read its replies). Throws once the channel is closed.
    func write(_ message: OutboundMessage) async throws {
        let open = state.withLock { !$0.ended }
        guard open else { throw ChannelError.ioOnClosedChannel }
        channel.writeAndFlush(message, promise: nil)
        guard !state.withLock({ $0.writable }) else { return }
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            enum Outcome { case proceed, closed, wait }
            let outcome = state.withLock { state -> Outcome in
                if state.ended { return .closed }
                if state.writable { return .proceed }
                state.writer = continuation
                return .wait
            }
            switch outcome {
            case .proceed: continuation.resume()
            case .closed: continuation.resume(throwing: ChannelError.ioOnClosedChannel)
            case .wait: break
            }
        }
    }
}
