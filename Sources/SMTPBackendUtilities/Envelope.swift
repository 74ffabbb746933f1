import SMTPCore
import SMTPServer

/// One transaction's envelope as a session saw it (RFC 5321 §2.3.1): who the client is, the
/// sender and the recipients with their parameters.
public struct Envelope: Sendable {
    /// The connection the transaction came on.
    public var state: ConnectionState
    /// The user the client authenticated as (RFC 4954), if it did.
    public var username: String?
    /// MAIL FROM's reverse-path.
    public var sender: ReversePath
    /// MAIL FROM's parameters.
    public var mailOptions: MailOptions
    /// The accepted recipients, in RCPT order, with their parameters.
    public var recipients: [(address: Address, options: RcptOptions)]

    /// An envelope with no recipients yet.
    public init(state: ConnectionState, username: String? = nil, sender: ReversePath = .null, mailOptions: MailOptions = MailOptions(),
                recipients: [(address: Address, options: RcptOptions)] = []) {
        self.state = state
        self.username = username
        self.sender = sender
        self.mailOptions = mailOptions
        self.recipients = recipients
    }
}
