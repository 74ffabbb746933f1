import NIOCore
import SMTPCore
import SMTPTransport
import Synchronization

/// Lets an ``LMTPSession`` report a status per recipient (RFC 2033 §4.2; go-smtp's
/// `StatusCollector`).
///
/// Set one status per accepted RCPT — a recipient given twice is set twice. Replies go out in
/// RCPT order as soon as every earlier recipient has its status and the message has been read
/// to its end, so an MTA can act on early results. Statuses set after ``LMTPSession/lmtpData(_:status:)``
/// returns are ignored. The collector is `Sendable`: statuses may be set from any task.
public final class StatusCollector: Sendable {
    /// The accepted recipients, in RCPT order.
    public let recipients: [Address]

    private struct State {
        var statuses: [SMTPError??]
        var written = 0
        var bodyComplete = false
        var closed = false
    }

    private let state: Mutex<State>

    private enum Sink {
        /// Ready replies are written through the connection's own writer, under the lock so
        /// that they leave in RCPT order whichever task sets them (the order of all replies is
        /// stated in `Connection+Message.swift`).
        case connection(ConnectionIO)
        /// Each status is handed on as it is set, with its index.
        case forward(@Sendable (Int, SMTPError?) -> Void)
    }

    private let sink: Sink

    init(recipients: [Address], writer: ConnectionIO) {
        self.recipients = recipients
        self.sink = .connection(writer)
        self.state = Mutex(State(statuses: Array(repeating: nil, count: recipients.count)))
    }

    /// A collector for a session that a backend wraps (a transforming or fan-out session): each
    /// status the wrapped session sets is passed to `forward` with the recipient's index in
    /// `recipients`, typically to set it on the server's collector. A recipient may appear
    /// under another address here than there (the wrapper may rewrite it); the index is what
    /// ties them.
    public init(recipients: [Address], forward: @escaping @Sendable (_ index: Int, _ status: SMTPError?) -> Void) {
        self.recipients = recipients
        self.sink = .forward(forward)
        self.state = Mutex(State(statuses: Array(repeating: nil, count: recipients.count)))
    }

    /// Sets the status of the first recipient equal to `recipient` that has none yet; `nil` is
    /// success. Returns `false` if there was no such recipient.
    @discardableResult
    public func setStatus(for recipient: Address, _ error: SMTPError?) -> Bool {
        state.withLock { state in
            guard !state.closed,
                  let index = recipients.indices.first(where: { recipients[$0] == recipient && state.statuses[$0] == nil })
            else { return false }
            state.statuses[index] = .some(error)
            publish(&state, index: index)
            return true
        }
    }

    /// Sets the status of the recipient at `index` (RCPT order) if it has none yet.
    @discardableResult
    public func setStatus(at index: Int, _ error: SMTPError?) -> Bool {
        state.withLock { state in
            guard !state.closed, recipients.indices.contains(index), state.statuses[index] == nil else { return false }
            state.statuses[index] = .some(error)
            publish(&state, index: index)
            return true
        }
    }

    /// The statuses set so far (`nil` for unset).
    public var statuses: [SMTPError??] { state.withLock { $0.statuses } }

    /// The message was read to its end: replies may go out. A failed body overrides every status.
    func bodyEnded(failure: SMTPError?) {
        state.withLock { state in
            if let failure {
                for index in state.statuses.indices where index >= state.written { state.statuses[index] = .some(failure) }
            }
            state.bodyComplete = true
            publish(&state)
        }
    }

    /// `lmtpData` returned: unset recipients get `outcome`; returns every final status.
    func finish(outcome: SMTPError?) -> [SMTPError?] {
        state.withLock { state in
            for index in state.statuses.indices where state.statuses[index] == nil {
                state.statuses[index] = .some(outcome)
            }
            state.closed = true
            state.bodyComplete = true
            publish(&state)
            return state.statuses.map { $0 ?? nil }
        }
    }

    /// The message ended without per-recipient replies (the client aborted it): nothing is
    /// written.
    func cancel() {
        state.withLock { state in
            state.closed = true
            state.bodyComplete = false
        }
    }

    /// `index` has just been set: hand it on, or write what is ready.
    private func publish(_ state: inout State, index: Int) {
        switch sink {
        case .forward(let forward): forward(index, state.statuses[index] ?? nil)
        case .connection: publish(&state)
        }
    }

    private func publish(_ state: inout State) {
        guard state.bodyComplete, case .connection(let writer) = sink else { return }
        var buffer = ByteBuffer()
        while state.written < recipients.count, let status = state.statuses[state.written] {
            ServerStateMachine.lmtpReply(recipient: recipients[state.written], status: status).write(to: &buffer)
            state.written += 1
        }
        if buffer.readableBytes > 0 { writer.send(NIOAny(buffer)) }
    }
}
