import DeliveryLog
import Maildir
import SMTPCore

/// The replies of the delivery agent, chosen as Postfix and Dovecot choose them: 4xx for
/// anything that may work on retry (RFC 5321 §4.2.1), 5xx only for what never will.
enum DeliveryReplies {
    /// No such local user (RFC 3463 X.1.1), or an address the agent never delivers to.
    static func unknownUser(_ address: Address) -> SMTPError {
        SMTPError(code: 550, enhancedCode: EnhancedCode(5, 1, 1), message: "<\(address)> User unknown")
    }

    /// A local part, detail or domain that cannot name a directory (RFC 3463 X.1.3): empty,
    /// starting with a dot, or with a `/` or a control character in it.
    static func badMailbox(_ address: Address) -> SMTPError {
        SMTPError(code: 550, enhancedCode: EnhancedCode(5, 1, 3), message: "<\(address)> Bad recipient mailbox address syntax")
    }

    /// Puts a delivery into its record: 250 2.0.0, naming the file.
    static func recordDelivered(_ address: Address, file: String, in record: inout RecipientRecord) {
        record.status = .delivered
        record.code = 250
        record.enhancedCode = "2.0.0"
        record.text = "<\(address)> delivered as \(file)"
    }

    /// Puts a suppressed duplicate into its record: 250 2.0.0, as the client is told.
    static func recordDuplicate(_ address: Address, in record: inout RecipientRecord) {
        record.status = .duplicate
        record.code = 250
        record.enhancedCode = "2.0.0"
        record.text = "<\(address)> already delivered (duplicate suppressed)"
    }

    /// Puts a message its Sieve scripts stored nowhere (discarded, or only redirected) into its
    /// record: 250 2.0.0 (the message was taken, as the user asked), no file; `what` says which.
    static func recordNotStored(_ address: Address, _ what: String, in record: inout RecipientRecord) {
        record.status = .delivered
        record.code = 250
        record.enhancedCode = "2.0.0"
        record.text = "<\(address)> \(what) by Sieve"
        record.mailbox = nil
    }

    /// A file-system failure for one recipient.
    static func failure(_ error: MaildirError, for address: Address, quotaTempfail: Bool) -> SMTPError {
        if error.isDiskFull {
            return SMTPError(code: 452, enhancedCode: EnhancedCode(4, 3, 1), message: "<\(address)> Mail system full")
        }
        if error.isQuotaExceeded {
            return quotaTempfail
                ? SMTPError(code: 452, enhancedCode: EnhancedCode(4, 2, 2), message: "<\(address)> Mailbox is full")
                : SMTPError(code: 552, enhancedCode: EnhancedCode(5, 2, 2), message: "<\(address)> Mailbox is full")
        }
        return SMTPError(code: 451, enhancedCode: EnhancedCode(4, 3, 0),
                         message: "<\(address)> Temporary failure writing the mailbox (\(error.operation))")
    }

    /// A failure for one recipient: the file system's (above) or, for anything else, a
    /// temporary local error.
    static func failure(_ error: any Error, for address: Address, quotaTempfail: Bool) -> SMTPError {
        if let error = error as? MaildirError { return failure(error, for: address, quotaTempfail: quotaTempfail) }
        return localError(address)
    }

    /// The user's quota would be exceeded (RFC 3463 X.2.2, mailbox full).
    static func overQuota(_ address: Address, quotaTempfail: Bool) -> SMTPError {
        quotaTempfail
            ? SMTPError(code: 452, enhancedCode: EnhancedCode(4, 2, 2), message: "<\(address)> Mailbox is over quota")
            : SMTPError(code: 552, enhancedCode: EnhancedCode(5, 2, 2), message: "<\(address)> Mailbox is over quota")
    }

    /// 451 4.3.0 for a local fault that is not the disk's.
    static func localError(_ address: Address) -> SMTPError {
        SMTPError(code: 451, enhancedCode: EnhancedCode(4, 3, 0), message: "<\(address)> Temporary local error")
    }

    /// Puts the reply a recipient got, a refusal, into its record: `deferred` for 4xx (the
    /// client retries), `failed` for 5xx.
    static func record(_ refusal: SMTPError, in record: inout RecipientRecord) {
        record.status = refusal.isTemporary ? .deferred : .failed
        record.code = refusal.code
        record.enhancedCode = refusal.enhancedCode.resolved(forReplyCode: refusal.code).map { "\($0)" } ?? ""
        record.text = refusal.message
    }

    /// The record of a recipient refused at RCPT, with its reply.
    static func refusalRecord(recipient: String, originalRecipient: String?, _ refusal: SMTPError) -> RecipientRecord {
        var result = RecipientRecord(recipient: recipient, originalRecipient: originalRecipient, status: .failed, code: 0,
                                     enhancedCode: "", text: "")
        record(refusal, in: &result)
        return result
    }

    /// The users could not be looked up (the users table's server is down or slow): whether
    /// the recipient exists is unknown, so it is deferred, never refused (RFC 3463 X.3.0).
    static func usersUnavailable(_ address: Address) -> SMTPError {
        SMTPError(code: 451, enhancedCode: EnhancedCode(4, 3, 0), message: "<\(address)> User lookup unavailable; try again later")
    }

    /// The message already carries `Delivered-To:` this recipient: it has looped (RFC 5321
    /// §6.3; RFC 3463 X.4.6 "routing loop detected"), and will loop again: refused for good.
    static func mailLoop(_ address: Address) -> SMTPError {
        SMTPError(code: 554, enhancedCode: EnhancedCode(5, 4, 6), message: "<\(address)> Mail loop: already delivered to this recipient")
    }

    /// The delivery log could not record the outcome: nothing was kept, the client retries.
    /// A Sieve redirect the relay did not take (down, or refusing the address): 451 4.3.0, so
    /// that the MTA delivers the message again later.
    static func redirectFailed(_ address: Address, to target: String) -> SMTPError {
        SMTPError(code: 451, enhancedCode: EnhancedCode(4, 3, 0), message: "<\(address)> Sieve redirect to <\(target)> failed, try again later")
    }

    static func logUnavailable(_ address: Address) -> SMTPError {
        SMTPError(code: 451, enhancedCode: EnhancedCode(4, 3, 0), message: "<\(address)> Delivery log unavailable; try again later")
    }
}
