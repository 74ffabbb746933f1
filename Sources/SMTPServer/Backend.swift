import SMTPCore

/// The application behind a ``Server``: it authenticates clients and opens a ``Session`` for
/// each of them (go-smtp's `Backend`).
///
/// A backend is shared by every connection, so it is `Sendable`. Its methods are called from
/// the connection's task.
public protocol Backend: Sendable {
    /// Authenticates a user from a password mechanism (AUTH PLAIN, AUTH LOGIN) and opens a
    /// session for them. Throw `SMTPError/authenticationFailed` (535 5.7.8) to refuse;
    /// any other `SMTPError` is sent as it is; other errors become 454 4.7.0 (RFC 4954 §6).
    func login(state: ConnectionState, username: String, password: String, sessionID: String) async throws -> any Session

    /// Opens a session for a client that did not authenticate, at its first MAIL. Throw
    /// `SMTPError/authRequired` (530 5.7.0) to insist on AUTH.
    func anonymousLogin(state: ConnectionState, sessionID: String) async throws -> any Session

    /// A new session id, called once per connection; it appears in every log line and in
    /// ``ConnectionState/sessionID``.
    func generateSessionID() -> String
}

extension Backend {
    /// Refuses password authentication with 502 5.5.1 (go-smtp's `ErrAuthUnsupported`).
    public func login(state: ConnectionState, username: String, password: String, sessionID: String) async throws -> any Session {
        throw SMTPError.authUnsupported
    }

    /// A random 16-character id from the Crockford base-32 alphabet.
    public func generateSessionID() -> String { SessionID.random() }
}

/// One client's mail transactions (go-smtp's `Session`). The server calls its methods
/// in protocol order, one at a time, from the connection's task; a session belongs to that
/// task and need not be `Sendable`.
///
/// Every method may throw an `SMTPError` to refuse with that exact reply. Other
/// errors become `451 4.3.0` — temporary, so that the client retries rather than bounces.
public protocol Session: AnyObject {
    /// The transaction was abandoned (RSET, EHLO, or a failed message): forget sender and
    /// recipients.
    func reset() async

    /// The connection is over; free everything.
    func logout() async

    /// MAIL FROM: the sender (`.null` for `<>`) and the vetted parameters (RFC 5321 §4.1.1.2).
    func mail(from: ReversePath, options: MailOptions) async throws

    /// RCPT TO: one recipient and its DSN parameters (RFC 5321 §4.1.1.3, RFC 3461).
    func rcpt(to: Address, options: RcptOptions) async throws

    /// The server refused a recipient itself, before asking ``rcpt(to:options:)`` (452 4.5.3
    /// too many recipients, 553 5.6.7 SMTPUTF8 not asked for), with the reply it sends. The
    /// transaction goes on. For backends that record every recipient's outcome; the default
    /// does nothing.
    func recipientRefused(_ to: Address, options: RcptOptions, error: SMTPError) async

    /// What the MTA in front said with XFORWARD of the client the coming message was received
    /// from (Postfix XFORWARD_README), called before ``mail(from:options:)`` when it said
    /// anything for this transaction. For logging and trace headers; the default ignores it.
    func xforward(_ client: ForwardedClient) async

    /// The message body, streamed (DATA or BDAT). Read it to the end for the message to be
    /// complete; returning without error accepts the message for every recipient. The server
    /// reads whatever is left of the body after this returns, so the session stays in sync.
    func data(_ body: MessageBody) async throws
}

extension Session {
    /// Does nothing: most backends need not know of recipients the server refused itself.
    public func recipientRefused(_ to: Address, options: RcptOptions, error: SMTPError) async {}

    /// Does nothing: XFORWARD's facts are for backends that log or trace them.
    public func xforward(_ client: ForwardedClient) async {}
}

/// A session that reports a status per recipient over LMTP (RFC 2033 §4.2), go-smtp's
/// `LMTPSession`.
public protocol LMTPSession: Session {
    /// Receives the message and sets each recipient's status on `status`. Recipients left
    /// unset get the outcome of this call: success if it returns, its error if it throws.
    func lmtpData(_ body: MessageBody, status: StatusCollector) async throws
}

/// A backend that lets trusted proxies assert another client's identity with XCLIENT (the
/// reference's `ProxyBackend`), and MTAs pass on the original client's facts with XFORWARD.
public protocol ProxyBackend: Backend {
    /// Whether the connection `actual` may assert `asserted`; asked for XCLIENT when no session
    /// exists yet, and for every XFORWARD (whose NAME, ADDR, PORT, PROTO and HELO make
    /// `asserted` as XCLIENT's would): one trust rule for both commands.
    func allowProxy(actual: ConnectionState, asserted: ConnectionState, sessionID: String) -> Bool
}

/// A session that can decide about XCLIENT itself (go-smtp's `ProxySession`).
public protocol ProxySession: Session {
    /// Whether the client may assert `asserted`; if so the session is logged out afterwards.
    func allowProxy(asserted: ConnectionState, sessionID: String) -> Bool
}

/// Session id generation.
enum SessionID {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(decoding: (0..<16).map { _ in alphabet[Int(generator.next() % 32)] }, as: UTF8.self)
    }
}
