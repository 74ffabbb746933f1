import NIOCore
import Synchronization

/// The bridge between a connection's channel and the task that drives it (a server's
/// connection or a client): the channel's last
/// handler pushes ``InboundEvent``s in, the task pulls them out one at a time and writes
/// straight to the channel.
///
/// It replaces `NIOAsyncChannel`, which does the same job generically: its sequence producer
/// and writer cost a lock, a state machine and generic metadata look-ups per event, several
/// times per SMTP round trip. Here an event costs one uncontended lock and, only when the task
/// is waiting, one continuation. Backpressure works the same way: once more than
/// ``highWatermark`` octets wait unread, the channel stops reading from the socket until the
/// task has taken them below ``lowWatermark``; a write waits while the channel is not writable.
package final class ConnectionIO: Sendable {
    /// Unread octets above which the socket is no longer read.
    package static let highWatermark = 256 * 1024
    /// Unread octets below which reading resumes.
    package static let lowWatermark = 64 * 1024

    private struct State {
        var events = CircularBuffer<InboundEvent>(initialCapacity: 4)
        var bufferedBytes = 0
        /// The task waiting for the next event.
        var reader: UnsafeContinuation<InboundEvent?, any Error>?
        /// The task waiting for the channel to become writable.
        var writer: UnsafeContinuation<Void, any Error>?
        /// The channel is closed; queued events are still delivered first.
        var ended = false
        /// Why it closed, thrown by ``next()`` after the queued events, if anything went wrong.
        var failure: (any Error)?
        var cancelled = false
        /// A read the pipeline asked for while too much was buffered.
        var heldRead = false
        var writable = true
    }

    /// The channel served.
    package let channel: any Channel
    private let state = Mutex(State())

    package init(channel: any Channel) {
        self.channel = channel
    }

    // MARK: - Channel side (called on the event loop)

    /// Queues an event for the task, waking it if it waits.
    package func push(_ event: InboundEvent) {
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
    package func mayRead() -> Bool {
        state.withLock { state in
            if state.bufferedBytes > Self.highWatermark {
                state.heldRead = true
                return false
            }
            return true
        }
    }

    /// The channel's writability changed.
    package func writabilityChanged(_ writable: Bool) {
        let writer = state.withLock { state -> UnsafeContinuation<Void, any Error>? in
            state.writable = writable
            guard writable else { return nil }
            defer { state.writer = nil }
            return state.writer
        }
        writer?.resume()
    }

    /// The channel closed (after `error`, if given): the task sees the events still queued, then
    /// the end, or the error.
    package func end(error: (any Error)? = nil) {
        let (reader, writer) = state.withLock { state in
            if !state.ended { state.failure = error }
            state.ended = true
            defer { state.reader = nil; state.writer = nil }
            return (state.reader, state.writer)
        }
        if let error, let reader {
            reader.resume(throwing: error)
        } else {
            reader?.resume(returning: nil)
        }
        writer?.resume(throwing: error ?? ChannelError.ioOnClosedChannel)
    }

    // MARK: - Task side

    /// Whether no event waits to be taken.
    package var isEmpty: Bool { state.withLock { $0.events.isEmpty } }

    /// The next event, or `nil` once the channel is closed and every event was taken. Throws
    /// `CancellationError` when the task is cancelled while it waits.
    nonisolated(nonsending) package func next() async throws -> InboundEvent? {
        switch try take(waiting: nil) {
        case .event(let event): return event
        case .end: return nil
        case .waiting: break
        }
        return try await withTaskCancellationHandler {
            try await wait()
        } onCancel: {
            let reader = state.withLock { state in
                state.cancelled = true
                defer { state.reader = nil }
                return state.reader
            }
            reader?.resume(throwing: CancellationError())
        }
    }

    /// ``next()`` for a task that closes the channel when it is cancelled (the server does, once
    /// per connection), so that the close, not a cancellation handler installed on every wait,
    /// ends the wait. It saves registering and removing a handler on every round trip.
    nonisolated(nonsending) package func nextUntilClosed() async throws -> InboundEvent? {
        switch try take(waiting: nil) {
        case .event(let event): return event
        case .end: return nil
        case .waiting: return try await wait()
        }
    }

    nonisolated(nonsending) private func wait() async throws -> InboundEvent? {
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
    }

    /// Writes and flushes `data` now, without waiting for the channel to be writable: for
    /// writes from tasks other than the connection's own (an LMTP status set by a backend's
    /// task), which reach the channel in the order made, and in order with ``write(_:)``'s.
    package func send(_ data: NIOAny) {
        Self.writeAndFlush(data, to: channel)
    }

    /// Writes and flushes `data` through `channel`'s pipeline: at once when called on its event
    /// loop (a connection's task runs there by default), else from a task on that loop.
    private static func writeAndFlush(_ data: NIOAny, to channel: any Channel) {
        if channel.eventLoop.inEventLoop {
            channel.pipeline.syncOperations.writeAndFlush(data, promise: nil)
        } else {
            let handOver = HandOver(data)
            channel.eventLoop.execute {
                channel.pipeline.syncOperations.writeAndFlush(handOver.data, promise: nil)
            }
        }
    }

    /// Sends `event` down `channel`'s pipeline from its last handler, in order with the writes
    /// made through ``write(_:)`` (at once on the event loop, else from a task on it). Throws
    /// once the channel is closed.
    package func sendOutboundEvent(_ event: some Sendable) throws {
        if let closed = state.withLock({ $0.ended ? ($0.failure ?? ChannelError.ioOnClosedChannel) : nil }) { throw closed }
        let channel = channel
        if channel.eventLoop.inEventLoop {
            channel.pipeline.syncOperations.triggerUserOutboundEvent(event, promise: nil)
        } else {
            channel.eventLoop.execute {
                channel.pipeline.syncOperations.triggerUserOutboundEvent(event, promise: nil)
            }
        }
    }

    /// Carries a wrapped message to the event loop.
    private struct HandOver: @unchecked Sendable {
        // @unchecked: `NIOAny` is not marked Sendable, but every value wrapped here is (the
        // generic `write` takes only Sendable messages; the server wraps its Sendable
        // `ByteBuffer` replies), and the sender never touches it again after the hand-over.
        let data: NIOAny
        init(_ data: NIOAny) { self.data = data }
    }

    private enum WriteOutcome { case proceed, closed, wait }

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
            if state.ended {
                if let failure = state.failure { throw failure }
                return (.end, false)
            }
            if state.cancelled { throw CancellationError() }
            if let reader { state.reader = reader }
            return (.waiting, false)
        }
        if resumeReading { channel.read() }
        return taken
    }

    /// Writes and flushes `message` (whatever the channel's last handler takes); waits while the
    /// channel is not writable (the peer does not read). Throws once the channel is closed.
    nonisolated(nonsending) package func write<Message: Sendable>(_ message: Message) async throws {
        try await write(NIOAny(message))
    }

    /// ``write(_:)`` of a message already wrapped by the caller, where its type is known, so
    /// that nothing is cast or looked up at run time (the generic path did both on every reply).
    nonisolated(nonsending) package func write(_ data: NIOAny) async throws {
        // Closed: say why (a timeout, a TLS failure) when that is known.
        if let closed = state.withLock({ $0.ended ? ($0.failure ?? ChannelError.ioOnClosedChannel) : nil }) { throw closed }
        Self.writeAndFlush(data, to: channel)
        guard !state.withLock({ $0.writable }) else { return }
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
            let outcome = state.withLock { state -> WriteOutcome in
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
