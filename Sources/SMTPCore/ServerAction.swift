/// What the server transport must do next, as decided by ``ServerStateMachine``.
///
/// Actions that involve the backend or the wire (`startTransaction`, `receiveData`, …) are
/// followed by a call back into the state machine with the outcome, which produces the reply.
public enum ServerAction: Hashable, Sendable {
    /// Send this reply and read the next command.
    case reply(Reply)
    /// Send this reply, then close the connection.
    case close(Reply)
    /// Ask the backend to start a transaction; then call ``ServerStateMachine/senderAccepted()``
    /// or ``ServerStateMachine/senderRejected(_:)``. The options are already vetted.
    case startTransaction(from: ReversePath, options: MailOptions)
    /// Ask the backend to add a recipient; then call ``ServerStateMachine/recipientAccepted()``
    /// or ``ServerStateMachine/recipientRejected(_:)``.
    case addRecipient(Address, RcptOptions)
    /// The server refuses this recipient itself (too many recipients, SMTPUTF8 not asked for):
    /// tell the backend (``Session``'s `recipientRefused`, so that a backend recording every
    /// recipient's outcome sees these too), then send the reply. The transaction goes on.
    case refuseRecipient(Address, RcptOptions, Reply)
    /// Tell the backend to discard the transaction (RSET, or EHLO inside one), then send the reply.
    case resetTransaction(Reply)
    /// Send this 354 reply, decode the dot-stuffed body and stream it to the backend; then call
    /// ``ServerStateMachine/messageProcessed(_:)``.
    case receiveData(Reply)
    /// Read exactly `size` octets and stream them to the backend as part of the message; then
    /// call ``ServerStateMachine/chunkProcessed()`` (not last) or
    /// ``ServerStateMachine/messageProcessed(_:)`` (last, or on failure).
    case receiveChunk(size: Int, last: Bool)
    /// Read and drop `size` octets (RFC 3030 §2: a refused chunk is still read), then send the
    /// replies. When `abortTransaction` is set the backend's message so far is discarded.
    case discardChunk(size: Int, replies: [Reply], abortTransaction: Bool)
    /// Send this 220, then run the TLS handshake; then call
    /// ``ServerStateMachine/tlsEstablished()``.
    case startTLS(Reply)
    /// Run the SASL exchange for `mechanism`; then call
    /// ``ServerStateMachine/authenticationSucceeded()`` or
    /// ``ServerStateMachine/authenticationFailed(_:)``.
    case authenticate(mechanism: String, initialResponse: [UInt8]?)
    /// Ask the backend whether the proxy may assert these facts; then call
    /// ``ServerStateMachine/xclientAccepted(trusted:authenticated:)`` or ``ServerStateMachine/xclientRejected()``.
    case xclient([XClientAttribute])
    /// Ask the backend whether this client may forward these attributes (XFORWARD), then
    /// report ``ServerStateMachine/xforwardAccepted()`` or ``ServerStateMachine/xforwardRejected()``.
    case xforward([XForwardAttribute])
}

/// What became of a message after its data (DATA or the last BDAT chunk).
public enum MessageOutcome: Hashable, Sendable {
    /// Accepted for every recipient.
    case accepted
    /// Refused for every recipient with this error.
    case failed(SMTPError)
    /// One status per accepted recipient, in RCPT order (`nil` is success), for LMTP.
    case perRecipient([SMTPError?])
}
