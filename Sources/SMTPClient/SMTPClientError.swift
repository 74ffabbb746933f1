import SMTPCore

/// Why the client refused to go on, for everything that is not a server's reply (those are
/// `SMTPError`s with the server's code, enhanced code and full text).
public enum SMTPClientError: Error, Hashable, Sendable {
    /// An argument contains CR or LF, or cannot be sent for another reason; nothing was sent.
    case invalidArgument(String)
    /// The server does not offer an extension the call needs (e.g. SMTPUTF8 for a non-ASCII
    /// address, STARTTLS, REQUIRETLS, CHUNKING for BINARYMIME, AUTH).
    case extensionNotSupported(String)
    /// `hello` was called after the greeting exchange had already happened.
    case helloAlreadySent
    /// The server sent bytes right after its 220 to STARTTLS, before TLS: a response-injection
    /// attempt. The connection has been closed.
    case startTLSResponseInjection
    /// TLS was required and could not be had; nothing was sent in plaintext after the check.
    case tlsRequired
    /// The server did not answer in time; the connection has been closed.
    case timeout
    /// The connection closed before the server's reply.
    case connectionClosed
    /// The server's reply does not follow RFC 5321 §4.2.
    case malformedReply(String)
    /// The server's reply has a code the client did not expect at this point.
    case unexpectedReply(Reply)
    /// The server refused every recipient of the transaction.
    case allRecipientsRefused([RecipientStatus])
    /// The SOCKS5 proxy refused or failed (RFC 1928 §6, RFC 1929 §2).
    case socks5(String)
    /// The call is not valid in the client's current state (e.g. `data()` without recipients,
    /// a method called while a message is being written).
    case invalidState(String)
}

/// The outcome for one recipient: the reply to its RCPT, or in LMTP its reply after the data.
public struct RecipientStatus: Hashable, Sendable {
    /// The recipient.
    public var recipient: Address
    /// The server's reply for it.
    public var reply: Reply

    /// Creates a status.
    public init(recipient: Address, reply: Reply) {
        self.recipient = recipient
        self.reply = reply
    }

    /// Whether the server accepted the recipient (a 2xx reply).
    public var accepted: Bool { reply.isPositiveCompletion }

    /// The error for a refused recipient; `nil` when accepted.
    public var error: SMTPError? { accepted ? nil : reply.error }
}
