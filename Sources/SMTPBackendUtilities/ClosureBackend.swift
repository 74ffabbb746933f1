import SMTPCore
import SMTPServer

/// A backend made of closures, for servers whose logic fits in a few lines: each closure
/// sees one step of the transaction, and the message closure the whole envelope. Leave a
/// closure out to accept that step as it is. Any closure may throw an
/// ``SMTPCore/SMTPError`` to refuse with that reply (other errors become 451 4.3.0).
public struct ClosureBackend: Backend {
    /// Checks a password login (AUTH PLAIN or LOGIN, RFC 4954).
    public typealias LoginHandler = @Sendable (_ username: String, _ password: String, ConnectionState) async throws -> Void
    /// Checks MAIL FROM.
    public typealias SenderHandler = @Sendable (ReversePath, MailOptions, ConnectionState) async throws -> Void
    /// Checks one RCPT TO.
    public typealias RecipientHandler = @Sendable (Address, RcptOptions, ConnectionState) async throws -> Void
    /// Receives the message; returning accepts it for every recipient.
    public typealias MessageHandler = @Sendable (Envelope, MessageBody) async throws -> Void

    /// Password logins; without it AUTH is refused with 502 5.5.1 (the session still works
    /// unauthenticated unless `requireLogin`).
    public var login: LoginHandler?
    /// Whether a client must authenticate before MAIL (530 5.7.0 otherwise).
    public var requireLogin: Bool
    /// The MAIL check.
    public var sender: SenderHandler?
    /// The RCPT check.
    public var recipient: RecipientHandler?
    /// The message receiver. Without one, the body is read and discarded.
    public var message: MessageHandler?

    /// A backend from the given closures.
    public init(login: LoginHandler? = nil, requireLogin: Bool = false, sender: SenderHandler? = nil,
                recipient: RecipientHandler? = nil, message: MessageHandler? = nil) {
        self.login = login
        self.requireLogin = requireLogin
        self.sender = sender
        self.recipient = recipient
        self.message = message
    }

    /// Calls ``login``, then opens a session.
    public func login(state: ConnectionState, username: String, password: String, sessionID: String) async throws -> any Session {
        guard let login else { throw SMTPError.authUnsupported }
        try await login(username, password, state)
        return ClosureSession(backend: self, envelope: Envelope(state: state, username: username))
    }

    /// Opens a session, unless ``requireLogin``.
    public func anonymousLogin(state: ConnectionState, sessionID: String) async throws -> any Session {
        if requireLogin { throw SMTPError.authRequired }
        return ClosureSession(backend: self, envelope: Envelope(state: state))
    }
}

/// The session of a ``ClosureBackend``: keeps the envelope and calls the closures.
final class ClosureSession: Session {
    private let backend: ClosureBackend
    private var envelope: Envelope

    init(backend: ClosureBackend, envelope: Envelope) {
        self.backend = backend
        self.envelope = envelope
    }

    func reset() async {
        envelope = Envelope(state: envelope.state, username: envelope.username)
    }

    func logout() async {}

    func mail(from: ReversePath, options: MailOptions) async throws {
        try await backend.sender?(from, options, envelope.state)
        envelope.sender = from
        envelope.mailOptions = options
    }

    func rcpt(to: Address, options: RcptOptions) async throws {
        try await backend.recipient?(to, options, envelope.state)
        envelope.recipients.append((to, options))
    }

    func data(_ body: MessageBody) async throws {
        if let message = backend.message {
            try await message(envelope, body)
        } else {
            for try await _ in body {}
        }
    }
}
