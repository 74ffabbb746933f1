import SMTPCore
import SMTPServer

/// Wraps a backend and rewrites each transaction before its sessions see it: the sender, each
/// recipient and the message body (go-smtp's `backendutil.TransformBackend`). For
/// address rewriting (canonical maps, SRS), inserting header fields, or filtering content.
///
/// The body transform receives the body as a stream and returns a stream: it should read its
/// input only as it produces output, so that a message of any size passes through in bounded
/// memory. Any transform may throw an ``SMTPCore/SMTPError`` to refuse with that reply.
/// Per-recipient LMTP statuses (RFC 2033 §4.2) pass through unchanged.
public struct TransformBackend: Backend {
    /// Rewrites MAIL FROM's reverse-path.
    public typealias SenderTransform = @Sendable (ReversePath, ConnectionState) async throws -> ReversePath
    /// Rewrites one RCPT TO address.
    public typealias RecipientTransform = @Sendable (Address, ConnectionState) async throws -> Address
    /// Rewrites the body; the envelope is the rewritten one.
    public typealias BodyTransform = @Sendable (MessageBody, Envelope) async throws -> MessageBody

    /// The backend whose sessions receive the rewritten transactions.
    public let wrapped: any Backend
    /// The sender transform, if any.
    public var sender: SenderTransform?
    /// The recipient transform, if any.
    public var recipient: RecipientTransform?
    /// The body transform, if any.
    public var body: BodyTransform?

    /// A backend that hands `wrapped` every transaction after the given transforms.
    public init(wrapping wrapped: any Backend, sender: SenderTransform? = nil, recipient: RecipientTransform? = nil,
                body: BodyTransform? = nil) {
        self.wrapped = wrapped
        self.sender = sender
        self.recipient = recipient
        self.body = body
    }

    /// Authenticates with the wrapped backend and wraps its session.
    public func login(state: ConnectionState, username: String, password: String, sessionID: String) async throws -> any Session {
        let session = try await wrapped.login(state: state, username: username, password: password, sessionID: sessionID)
        return TransformSession(wrapping: session, backend: self, state: state, username: username)
    }

    /// Opens the wrapped backend's session and wraps it.
    public func anonymousLogin(state: ConnectionState, sessionID: String) async throws -> any Session {
        let session = try await wrapped.anonymousLogin(state: state, sessionID: sessionID)
        return TransformSession(wrapping: session, backend: self, state: state, username: nil)
    }

    /// The wrapped backend's session ids.
    public func generateSessionID() -> String { wrapped.generateSessionID() }
}

/// The session of a ``TransformBackend``: applies its transforms, then calls the wrapped
/// session.
public final class TransformSession: LMTPSession {
    /// The session that receives the rewritten transaction.
    public let wrapped: any Session
    private let backend: TransformBackend
    private var envelope: Envelope

    init(wrapping wrapped: any Session, backend: TransformBackend, state: ConnectionState, username: String?) {
        self.wrapped = wrapped
        self.backend = backend
        self.envelope = Envelope(state: state, username: username)
    }

    /// Forgets the transaction, here and in the wrapped session.
    public func reset() async {
        envelope = Envelope(state: envelope.state, username: envelope.username)
        await wrapped.reset()
    }

    /// Logs the wrapped session out.
    public func logout() async {
        await wrapped.logout()
    }

    /// Rewrites the sender, then passes MAIL on.
    public func mail(from: ReversePath, options: MailOptions) async throws {
        let sender = try await backend.sender?(from, envelope.state) ?? from
        try await wrapped.mail(from: sender, options: options)
        envelope.sender = sender
        envelope.mailOptions = options
    }

    /// Rewrites the recipient, then passes RCPT on; only recipients the wrapped session
    /// accepted are part of the envelope.
    public func rcpt(to: Address, options: RcptOptions) async throws {
        let recipient = try await backend.recipient?(to, envelope.state) ?? to
        try await wrapped.rcpt(to: recipient, options: options)
        envelope.recipients.append((recipient, options))
    }

    /// Passes a recipient the server refused itself on, rewritten as RCPT would have been
    /// (as it is when the rewrite fails).
    public func recipientRefused(_ to: Address, options: RcptOptions, error: SMTPError) async {
        let recipient = (try? await backend.recipient?(to, envelope.state)) ?? to
        await wrapped.recipientRefused(recipient, options: options, error: error)
    }

    /// Rewrites the body, then passes it on.
    public func data(_ body: MessageBody) async throws {
        try await wrapped.data(try await transformed(body))
    }

    /// Rewrites the body, then passes it on; the wrapped session's per-recipient statuses are
    /// set on `status` by index, so rewritten addresses still match.
    public func lmtpData(_ body: MessageBody, status: StatusCollector) async throws {
        let body = try await transformed(body)
        guard let lmtp = wrapped as? any LMTPSession else { return try await wrapped.data(body) }
        let inner = StatusCollector(recipients: envelope.recipients.map(\.address)) { index, outcome in
            status.setStatus(at: index, outcome)
        }
        try await lmtp.lmtpData(body, status: inner)
    }

    private func transformed(_ body: MessageBody) async throws -> MessageBody {
        guard let transform = backend.body else { return body }
        return try await transform(body, envelope)
    }
}
