/// A failure reported by an SMTP or LMTP peer, or one a server backend reports to its client.
///
/// This is the single error value of the library: a reply code (RFC 5321 §4.2), an enhanced
/// status code (RFC 3463) and the human-readable text. 4xx codes mean "may succeed if
/// retried", 5xx codes "will never succeed"; choose deliberately (RFC 5321 §4.2.1).
public struct SMTPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The three-digit reply code.
    public var code: Int
    /// The enhanced status code; ``EnhancedCode/notSet`` derives `X.0.0` from ``code``.
    public var enhancedCode: EnhancedCode
    /// The reply text; several lines are joined with `\n` and sent as a multi-line reply.
    public var message: String

    /// Creates an error reply.
    public init(code: Int, enhancedCode: EnhancedCode = .notSet, message: String) {
        self.code = code
        self.enhancedCode = enhancedCode
        self.message = message
    }

    /// Whether the failure is transient (4xx) and the client should retry later.
    public var isTemporary: Bool { code >= 400 && code < 500 }

    /// Whether the failure is permanent (5xx).
    public var isPermanent: Bool { code >= 500 && code < 600 }

    /// The reply that carries this error to a client.
    public var reply: Reply {
        Reply(code: code, enhancedCode: enhancedCode, text: message)
    }

    /// `code enhanced-code message`, as it would appear on the wire (one line per text line).
    public var description: String { reply.text(separator: " / ") }
}

extension SMTPError {
    /// A message or a BDAT chunk exceeded the server's size limit (RFC 1870 §6.3, reference
    /// `ErrDataTooLarge`).
    public static let dataTooLarge = SMTPError(
        code: 552, enhancedCode: EnhancedCode(5, 3, 4), message: "Maximum message size exceeded")

    /// The client must authenticate before this command (RFC 4954 §6, reference
    /// `ErrAuthRequired`).
    public static let authRequired = SMTPError(
        code: 530, enhancedCode: EnhancedCode(5, 7, 0), message: "Authentication required")

    /// The server does not support authentication (reference `ErrAuthUnsupported`).
    public static let authUnsupported = SMTPError(
        code: 502, enhancedCode: EnhancedCode(5, 5, 1), message: "Authentication not supported")

    /// The client aborted the message transfer with RSET or by closing the connection in the
    /// middle of BDAT (reference `ErrDataReset`). Never sent to a client: the session is gone.
    public static let dataReset = SMTPError(
        code: 451, enhancedCode: EnhancedCode(4, 3, 0), message: "Message transmission aborted")

    /// A command line was longer than the server accepts (RFC 5321 §4.5.3.1.4, reference
    /// `ErrTooLongLine`).
    public static let lineTooLong = SMTPError(
        code: 500, enhancedCode: EnhancedCode(5, 5, 2), message: "Error: line too long")

    /// The credentials were rejected (RFC 4954 §6).
    public static let authenticationFailed = SMTPError(
        code: 535, enhancedCode: EnhancedCode(5, 7, 8), message: "Authentication credentials invalid")

    /// Authentication failed for a reason that may go away (RFC 4954 §6).
    public static let temporaryAuthenticationFailure = SMTPError(
        code: 454, enhancedCode: EnhancedCode(4, 7, 0), message: "Temporary authentication failure")

    /// The mailbox changed owner after the time an `RRVS=` parameter gave (RFC 7293 §3.2,
    /// X.7.17): the message is not for the person who has the mailbox now.
    public static let mailboxOwnerChanged = SMTPError(
        code: 550, enhancedCode: EnhancedCode(5, 7, 17), message: "Mailbox owner has changed")

    /// A relay cannot pass on an `RRVS=` check with action R because the next hop does not
    /// offer RRVS (RFC 7293 §3.3, X.7.19).
    public static let recipientValidSinceUncheckable = SMTPError(
        code: 550, enhancedCode: EnhancedCode(5, 7, 19), message: "RRVS test cannot be completed")

    /// A local problem that may be resolved by retrying (RFC 5321 §4.2.3, RFC 3463 X.3.0).
    public static let localError = SMTPError(
        code: 451, enhancedCode: EnhancedCode(4, 3, 0), message: "Local error in processing")
}
