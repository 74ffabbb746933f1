/// Every fixed reply the server-side state machine produces; `docs/protocol.md` lists them with
/// the situation and the RFC each comes from. Backend-supplied errors come on top of these.
public enum ServerReplies {
    static func make(_ code: Int, _ enhanced: EnhancedCode, _ text: String) -> Reply {
        Reply(code: code, enhancedCode: enhanced, text: text)
    }

    /// 250 2.0.0 — RSET, NOOP (RFC 5321 §4.1.1.5, §4.1.1.9).
    public static let ok = make(250, EnhancedCode(2, 0, 0), "Ok")
    /// 250 2.1.0 — MAIL accepted (RFC 3463 X.1.0).
    public static let senderOK = make(250, EnhancedCode(2, 1, 0), "Ok")
    /// 250 2.1.5 — RCPT accepted (RFC 3463 X.1.5 "destination address valid").
    public static let recipientOK = make(250, EnhancedCode(2, 1, 5), "Ok")
    /// 250 2.0.0 — message accepted over SMTP.
    public static let queued = make(250, EnhancedCode(2, 0, 0), "Ok: queued")
    /// 221 2.0.0 — QUIT (RFC 5321 §4.1.1.10).
    public static let bye = make(221, EnhancedCode(2, 0, 0), "Bye")
    /// 354 — start mail input (RFC 5321 §4.1.1.4); 3xx replies carry no enhanced code.
    public static let startMailInput = make(354, .omitted, "End data with <CR><LF>.<CR><LF>")
    /// 220 2.0.0 — STARTTLS accepted (RFC 3207 §4).
    public static let readyToStartTLS = make(220, EnhancedCode(2, 0, 0), "Ready to start TLS")
    /// 235 2.7.0 — AUTH succeeded (RFC 4954 §6).
    public static let authenticated = make(235, EnhancedCode(2, 7, 0), "Authentication successful")
    /// 252 2.5.0 — VRFY not performed (RFC 5321 §3.5.3).
    public static let cannotVerify = make(252, EnhancedCode(2, 5, 0), "Cannot VRFY user, but will accept message and attempt delivery")
    /// 214 2.0.0 — HELP (RFC 5321 §4.1.1.8).
    public static let help = make(214, EnhancedCode(2, 0, 0),
                                  "Commands: HELO EHLO LHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP AUTH STARTTLS\nSee RFC 5321")

    /// 500 5.5.2 — unrecognised verb (RFC 5321 §4.2.4).
    public static let unrecognized = CommandParser.unrecognized.reply
    /// 500 5.5.2 — command line over the limit (RFC 5321 §4.5.3.1.4).
    public static let lineTooLong = SMTPError.lineTooLong.reply
    /// 500 5.5.1 — HELO/EHLO sent to an LMTP server (RFC 2033 §4.1).
    public static let useLHLO = make(500, EnhancedCode(5, 5, 1), "Error: this is an LMTP server, use LHLO")
    /// 500 5.5.1 — LHLO sent to an SMTP server.
    public static let useEHLO = make(500, EnhancedCode(5, 5, 1), "Error: this is an SMTP server, use EHLO")
    /// 502 5.5.1 — a verb that is known but not offered here (RFC 5321 §4.2.4).
    public static let notImplemented = make(502, EnhancedCode(5, 5, 1), "Error: command not implemented")
    /// 503 5.5.1 — MAIL/AUTH/STARTTLS before HELO/EHLO (RFC 5321 §4.1.4).
    public static let helloFirst = make(503, EnhancedCode(5, 5, 1), "Error: send HELO/EHLO first")
    /// 503 5.5.1 — the same, on an LMTP server.
    public static let lhloFirst = make(503, EnhancedCode(5, 5, 1), "Error: send LHLO first")
    /// 503 5.5.1 — MAIL inside a transaction (RFC 5321 §4.1.4).
    public static let nestedMail = make(503, EnhancedCode(5, 5, 1), "Error: nested MAIL command")
    /// 503 5.5.1 — RCPT, DATA or BDAT without MAIL.
    public static let needMail = make(503, EnhancedCode(5, 5, 1), "Error: need MAIL command")
    /// 503 5.5.1 — DATA or BDAT without any RCPT.
    public static let needRcpt = make(503, EnhancedCode(5, 5, 1), "Error: need RCPT command")
    /// 554 5.5.1 — DATA or BDAT when every RCPT was refused (Postfix's reply).
    public static let noValidRecipients = make(554, EnhancedCode(5, 5, 1), "Error: no valid recipients")
    /// 503 5.5.1 — DATA after BDAT in the same transaction (RFC 3030 §2).
    public static let dataAfterBDAT = make(503, EnhancedCode(5, 5, 1), "Error: DATA not allowed after BDAT")
    /// 503 5.5.1 — DATA with BODY=BINARYMIME (RFC 3030 §3: BDAT is required).
    public static let binaryNeedsBDAT = make(503, EnhancedCode(5, 5, 1), "Error: BODY=BINARYMIME requires BDAT")
    /// 503 5.5.1 — RCPT between BDAT chunks (RFC 3030 §2).
    public static let bdatInProgress = make(503, EnhancedCode(5, 5, 1), "Error: command not allowed during BDAT transfer")
    /// 503 5.5.1 — STARTTLS, AUTH or XCLIENT inside a transaction.
    public static let transactionInProgress = make(503, EnhancedCode(5, 5, 1), "Error: MAIL transaction in progress")
    /// 554 5.5.1 — STARTTLS on a connection that already has TLS (Postfix's reply).
    public static let tlsAlreadyActive = make(554, EnhancedCode(5, 5, 1), "Error: TLS already active")
    /// 503 5.5.1 — AUTH after a successful AUTH (RFC 4954 §4).
    public static let alreadyAuthenticated = make(503, EnhancedCode(5, 5, 1), "Error: already authenticated")
    /// 538 5.7.11 — AUTH on a connection that is not secure (RFC 4954 §6).
    public static let encryptionRequired = make(538, EnhancedCode(5, 7, 11), "Encryption required for requested authentication mechanism")
    /// 504 5.5.4 — AUTH with a mechanism not offered (RFC 4954 §4).
    public static let unknownMechanism = make(504, EnhancedCode(5, 5, 4), "Unrecognized authentication type")
    /// 501 5.0.0 — the client answered `*` to a challenge (RFC 4954 §4).
    public static let authenticationAborted = make(501, EnhancedCode(5, 0, 0), "Authentication aborted")
    /// 550 5.7.0 — XCLIENT from a client that may not use it (Postfix's reply).
    public static let xclientForbidden = make(550, EnhancedCode(5, 7, 0), "Error: insufficient authorization")
    /// 502 5.5.1 — EXPN, which this server does not implement (RFC 5321 §3.5.2).
    public static let expnNotImplemented = make(502, EnhancedCode(5, 5, 1), "Error: EXPN not implemented")
    /// 452 4.5.3 — one recipient over the limit (RFC 5321 §4.5.3.1.10).
    public static let tooManyRecipients = make(452, EnhancedCode(4, 5, 3), "Error: too many recipients")
    /// 552 5.3.4 — SIZE or the data over the limit (RFC 1870 §6).
    public static let messageTooBig = SMTPError.dataTooLarge.reply
    /// 553 5.6.7 — a UTF-8 address without SMTPUTF8 (RFC 6531 §3.5).
    public static let needSMTPUTF8 = make(553, EnhancedCode(5, 6, 7), "Error: an address with UTF-8 requires MAIL FROM with SMTPUTF8")
    /// 550 5.5.2 — bare CR or LF in the body when they are refused (RFC 5321 §2.3.8).
    public static let bareLineEnding = make(550, EnhancedCode(5, 5, 2), "Error: message contains bare CR or LF (RFC 5321 section 2.3.8)")
    /// 421 4.7.0 — too many errors; the connection closes (Postfix `smtpd_hard_error_limit`).
    public static let tooManyErrors = make(421, EnhancedCode(4, 7, 0), "Error: too many errors, closing connection")
    /// 421 4.3.0 — the server is in no state to take this input; it closes the connection.
    public static let internalState = make(421, EnhancedCode(4, 3, 0), "Error: internal state error, closing connection")

    /// 555 5.5.4 — a parameter whose extension is not offered (RFC 5321 §4.1.1.11).
    public static func unsupportedParameter(_ name: String) -> Reply {
        make(555, EnhancedCode(5, 5, 4), "Unsupported parameter: \(name)")
    }

    /// 501 5.5.4 — `BY=` with by-mode R and a by-time of zero or less: the time is already up
    /// (RFC 2852 §4; sendmail's reply).
    public static let deliverByExpired = make(501, EnhancedCode(5, 5, 4), "Error: BY time must be positive with by-mode R")

    /// 555 5.5.4 — `BY=` with by-mode R and a by-time under the announced min-by-time
    /// (RFC 2852 §4; sendmail answers 555 as well).
    public static func deliverByTooShort(_ minimum: Int) -> Reply {
        make(555, EnhancedCode(5, 5, 4), "Error: BY time less than the minimum of \(minimum) seconds")
    }

    /// 250 2.0.0 — a non-final BDAT chunk arrived (RFC 3030 §2).
    public static func chunkReceived(_ octets: Int) -> Reply {
        make(250, EnhancedCode(2, 0, 0), "Ok: \(octets) octets received")
    }

    /// 250 2.0.0 — one LMTP recipient's delivery succeeded (RFC 2033 §4.2).
    public static func delivered(_ recipient: Address) -> Reply {
        // Built with its capacity: one allocation, where interpolation made several.
        var text = "<"
        text.reserveCapacity(recipient.localPart.utf8.count + recipient.domain.utf8.count + 6)
        text.append(recipient.localPart)
        if !recipient.domain.isEmpty {
            text.append("@")
            text.append(recipient.domain)
        }
        text.append("> Ok")
        return make(250, EnhancedCode(2, 0, 0), text)
    }

    /// 421 4.4.2 — the client was silent for the read timeout (RFC 5321 §4.5.3.2.7, Postfix).
    public static func timeoutExceeded(hostname: String) -> Reply {
        make(421, EnhancedCode(4, 4, 2), "\(hostname) Error: timeout exceeded")
    }

    /// 421 4.4.2 — a message took longer than the DATA timeout (RFC 5321 §4.5.3.2.6).
    public static func messageTransferTooSlow(hostname: String) -> Reply {
        make(421, EnhancedCode(4, 4, 2), "\(hostname) Error: message transfer took too long")
    }

    /// 421 4.3.2 — the server is shutting down (RFC 5321 §3.8, RFC 3463 X.3.2).
    public static func shuttingDown(hostname: String) -> Reply {
        make(421, EnhancedCode(4, 3, 2), "\(hostname) Service shutting down, closing connection")
    }

    /// 421 4.4.5 — the server rejects the connection as too busy (go-smtp's `Conn.Reject`).
    public static let tooBusy = make(421, EnhancedCode(4, 4, 5), "Too busy. Try again later.")

    /// 421 4.7.28 — the client connects too often (go-smtp's rate limiter).
    public static func rateLimited(hostname: String, client: String, retryAfterSeconds: Int) -> Reply {
        make(421, EnhancedCode(4, 7, 28),
             "\(hostname) Error: too many connections from \(client), try again in \(retryAfterSeconds) seconds")
    }

    /// 421 4.7.0 — too many connections overall, or from `client` (Postfix).
    public static func tooManyConnections(hostname: String, client: String? = nil) -> Reply {
        make(421, EnhancedCode(4, 7, 0), "\(hostname) Error: too many connections" + (client.map { " from \($0)" } ?? ""))
    }
}
