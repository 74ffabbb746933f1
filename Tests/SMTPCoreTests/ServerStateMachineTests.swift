import Testing
@testable import SMTPCore

/// Drives a state machine with command lines the way a server would, with a scripted backend,
/// and records the replies as `code enhanced-code` (the text is checked separately).
struct Conversation {
    var machine: ServerStateMachine
    var parser: CommandParser
    var rejectSender: (ReversePath) -> SMTPError? = { _ in nil }
    var rejectRecipient: (Address) -> SMTPError? = { _ in nil }
    var messageOutcome: MessageOutcome = .accepted
    var authSucceeds = true
    var xclientAllowed = true
    /// Every action the machine asked for, in order.
    var actions: [ServerAction] = []
    /// Every reply, in order.
    var replies: [Reply] = []

    init(_ configuration: ServerConfiguration = ServerConfiguration(), facts: ConnectionFacts = ConnectionFacts()) {
        machine = ServerStateMachine(configuration: configuration, facts: facts)
        parser = CommandParser(strict: configuration.strict)
    }

    static func summary(_ reply: Reply) -> String {
        if let code = reply.enhancedCode.resolved(forReplyCode: reply.code) { return "\(reply.code) \(code)" }
        return "\(reply.code)"
    }

    /// Sends one line; returns the summaries of the replies it caused.
    @discardableResult
    mutating func send(_ line: String) -> [String] {
        let action: ServerAction
        do {
            action = machine.commandReceived(try parser.parse(line))
        } catch {
            action = machine.parseFailed(error)
        }
        return perform(action)
    }

    /// Ends a DATA transfer with the scripted outcome (or the given one).
    @discardableResult
    mutating func finishData(_ outcome: MessageOutcome? = nil) -> [String] {
        record(machine.messageProcessed(outcome ?? messageOutcome))
    }

    mutating func perform(_ action: ServerAction) -> [String] {
        actions.append(action)
        switch action {
        case .reply(let reply), .close(let reply), .resetTransaction(let reply), .receiveData(let reply):
            return record([reply])
        case .startTransaction(let from, _):
            return record([rejectSender(from).map { machine.senderRejected($0) } ?? machine.senderAccepted()])
        case .addRecipient(let to, _):
            return record([rejectRecipient(to).map { machine.recipientRejected($0) } ?? machine.recipientAccepted()])
        case .receiveChunk(_, let last):
            return record(last ? machine.messageProcessed(messageOutcome) : [machine.chunkProcessed()])
        case .discardChunk(_, let replies, _):
            return record(replies)
        case .startTLS(let reply):
            machine.tlsEstablished()
            return record([reply])
        case .authenticate:
            return record([authSucceeds ? machine.authenticationSucceeded()
                                        : machine.authenticationFailed(SMTPError.authenticationFailed)])
        case .xclient:
            return record([xclientAllowed ? machine.xclientAccepted(trusted: false, authenticated: false) : machine.xclientRejected()])
        }
    }

    mutating func record(_ new: [Reply]) -> [String] {
        replies += new
        return new.map(Self.summary)
    }
}

@Suite("Server transaction state machine")
struct ServerStateMachineTests {
    static let lmtp = ServerConfiguration(lmtp: true, hostname: "lmtp.test")

    @Test("an SMTP transaction from greeting to QUIT")
    func smtpHappyPath() {
        var c = Conversation(ServerConfiguration(hostname: "mx.test", maximumMessageBytes: 1000))
        #expect(c.machine.greeting.encoded == "220 mx.test ESMTP Letterbox\r\n")
        #expect(c.send("EHLO client.test") == ["250"])
        #expect(c.replies.last?.lines == ["mx.test", "PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING",
                                          "SMTPUTF8", "SIZE 1000", "LIMITS RCPTMAX=1000"])
        #expect(c.send("MAIL FROM:<a@b.test> SIZE=100") == ["250 2.1.0"])
        #expect(c.send("RCPT TO:<c@d.test>") == ["250 2.1.5"])
        #expect(c.send("DATA") == ["354"])
        #expect(c.machine.phase == .receivingData)
        #expect(c.finishData() == ["250 2.0.0"])
        #expect(c.machine.recipients.isEmpty)
        #expect(c.send("QUIT") == ["221 2.0.0"])
        #expect(c.machine.isClosed)
    }

    @Test("HELO gives a one-line reply and no extensions")
    func helo() {
        var c = Conversation()
        #expect(c.send("HELO client.test") == ["250"])
        #expect(c.replies.last?.lines == ["localhost"])
        #expect(c.machine.extended == false)
    }

    @Test("LMTP answers one reply per accepted recipient after the data (RFC 2033 §4.2)")
    func lmtpPerRecipient() {
        var c = Conversation(Self.lmtp)
        c.rejectRecipient = { $0.localPart == "nobody" ? SMTPError(code: 550, enhancedCode: EnhancedCode(5, 1, 1), message: "no") : nil }
        #expect(c.machine.greeting.encoded == "220 lmtp.test LMTP Letterbox\r\n")
        #expect(c.send("LHLO mta.test") == ["250"])
        #expect(c.send("MAIL FROM:<a@b.test>") == ["250 2.1.0"])
        #expect(c.send("RCPT TO:<one@d.test>") == ["250 2.1.5"])
        #expect(c.send("RCPT TO:<nobody@d.test>") == ["550 5.1.1"])
        #expect(c.send("RCPT TO:<two@d.test>") == ["250 2.1.5"])
        #expect(c.send("DATA") == ["354"])
        let full = SMTPError(code: 452, enhancedCode: EnhancedCode(4, 2, 2), message: "mailbox full")
        #expect(c.finishData(.perRecipient([nil, full])) == ["250 2.0.0", "452 4.2.2"])
        #expect(c.replies[c.replies.count - 2].lines == ["<one@d.test> Ok"])
    }

    @Test("LMTP repeats a whole-message failure for every recipient")
    func lmtpFailureForAll() {
        var c = Conversation(Self.lmtp)
        c.send("LHLO mta.test"); c.send("MAIL FROM:<>"); c.send("RCPT TO:<x@d.test>"); c.send("RCPT TO:<y@d.test>")
        c.send("DATA")
        #expect(c.finishData(.failed(SMTPError.dataTooLarge)) == ["552 5.3.4", "552 5.3.4"])
        #expect(c.finishData() == ["421 4.3.0"])
        #expect(c.machine.isClosed)
    }

    @Test("SMTP with several recipients: one reply for the message")
    func smtpOneReply() {
        var c = Conversation()
        c.send("EHLO c"); c.send("MAIL FROM:<>"); c.send("RCPT TO:<x@d.test>"); c.send("RCPT TO:<y@d.test>"); c.send("DATA")
        #expect(c.finishData(.perRecipient([nil, SMTPError.localError])) == ["451 4.3.0"])
    }

    static let sequences: [(String, ServerConfiguration, ConnectionFacts, [String], [String])] = [
        ("MAIL before EHLO", ServerConfiguration(), ConnectionFacts(),
         ["MAIL FROM:<a@b.test>", "RCPT TO:<a@b.test>", "DATA", "NOOP", "RSET", "VRFY x", "HELP"],
         ["503 5.5.1", "503 5.5.1", "503 5.5.1", "250 2.0.0", "250 2.0.0", "252 2.5.0", "214 2.0.0"]),
        ("HELO/EHLO on LMTP, LHLO on SMTP", lmtp, ConnectionFacts(),
         ["HELO x", "EHLO x", "MAIL FROM:<>", "LHLO x"], ["500 5.5.1", "500 5.5.1", "503 5.5.1", "250"]),
        ("LHLO on SMTP", ServerConfiguration(), ConnectionFacts(), ["LHLO x"], ["500 5.5.1"]),
        ("out-of-order transaction commands", ServerConfiguration(), ConnectionFacts(),
         ["EHLO c", "RCPT TO:<a@b.test>", "DATA", "MAIL FROM:<>", "MAIL FROM:<>", "DATA"],
         ["250", "503 5.5.1", "503 5.5.1", "250 2.1.0", "503 5.5.1", "503 5.5.1"]),
        ("too many recipients", ServerConfiguration(maximumRecipients: 2), ConnectionFacts(),
         ["EHLO c", "MAIL FROM:<>", "RCPT TO:<a@b.test>", "RCPT TO:<b@b.test>", "RCPT TO:<c@b.test>", "DATA"],
         ["250", "250 2.1.0", "250 2.1.5", "250 2.1.5", "452 4.5.3", "354", "250 2.0.0"]),
        ("SIZE over the limit", ServerConfiguration(maximumMessageBytes: 100), ConnectionFacts(),
         ["EHLO c", "MAIL FROM:<> SIZE=101", "MAIL FROM:<> SIZE=100"], ["250", "552 5.3.4", "250 2.1.0"]),
        ("BINARYMIME not offered", ServerConfiguration(), ConnectionFacts(),
         ["EHLO c", "MAIL FROM:<> BODY=BINARYMIME", "MAIL FROM:<> BODY=8BITMIME"], ["250", "555 5.5.4", "250 2.1.0"]),
        ("BINARYMIME needs BDAT", ServerConfiguration(enableBINARYMIME: true), ConnectionFacts(),
         ["EHLO c", "MAIL FROM:<> BODY=BINARYMIME", "RCPT TO:<a@b.test>", "DATA", "BDAT 3 LAST"],
         ["250", "250 2.1.0", "250 2.1.5", "503 5.5.1", "250 2.0.0"]),
        ("SMTPUTF8 off", ServerConfiguration(enableSMTPUTF8: false), ConnectionFacts(),
         ["EHLO c", "MAIL FROM:<a@b.test> SMTPUTF8", "MAIL FROM:<pelé@b.test>"], ["250", "555 5.5.4", "553 5.6.7"]),
        ("UTF-8 addresses need SMTPUTF8 on MAIL", ServerConfiguration(), ConnectionFacts(),
         ["EHLO c", "MAIL FROM:<pelé@b.test>", "MAIL FROM:<a@b.test>", "RCPT TO:<josé@b.test>", "RSET",
          "MAIL FROM:<a@b.test> SMTPUTF8", "RCPT TO:<josé@b.test>"],
         ["250", "553 5.6.7", "250 2.1.0", "553 5.6.7", "250 2.0.0", "250 2.1.0", "250 2.1.5"]),
        ("DSN parameters only when DSN is on", ServerConfiguration(), ConnectionFacts(),
         ["EHLO c", "MAIL FROM:<> RET=HDRS", "MAIL FROM:<> ENVID=x", "MAIL FROM:<>", "RCPT TO:<a@b.test> NOTIFY=NEVER",
          "RCPT TO:<a@b.test> ORCPT=rfc822;a@b.test"],
         ["250", "555 5.5.4", "555 5.5.4", "250 2.1.0", "555 5.5.4", "555 5.5.4"]),
        ("DSN parameters when DSN is on", ServerConfiguration(enableDSN: true), ConnectionFacts(),
         ["EHLO c", "MAIL FROM:<> RET=HDRS ENVID=x", "RCPT TO:<a@b.test> NOTIFY=SUCCESS ORCPT=rfc822;a@b.test"],
         ["250", "250 2.1.0", "250 2.1.5"]),
        ("REQUIRETLS needs a secure connection", ServerConfiguration(enableREQUIRETLS: true), ConnectionFacts(),
         ["EHLO c", "MAIL FROM:<> REQUIRETLS"], ["250", "555 5.5.4"]),
        ("REQUIRETLS over TLS", ServerConfiguration(enableREQUIRETLS: true), ConnectionFacts(tlsActive: true),
         ["EHLO c", "MAIL FROM:<> REQUIRETLS"], ["250", "250 2.1.0"]),
        ("STARTTLS not available", ServerConfiguration(), ConnectionFacts(), ["EHLO c", "STARTTLS"], ["250", "502 5.5.1"]),
        ("STARTTLS sequence", ServerConfiguration(startTLSAvailable: true), ConnectionFacts(),
         ["STARTTLS", "EHLO c", "MAIL FROM:<>", "STARTTLS", "RSET", "STARTTLS", "MAIL FROM:<>", "EHLO c", "STARTTLS"],
         ["503 5.5.1", "250", "250 2.1.0", "503 5.5.1", "250 2.0.0", "220 2.0.0", "503 5.5.1", "250", "554 5.5.1"]),
        ("AUTH not offered", ServerConfiguration(), ConnectionFacts(), ["EHLO c", "AUTH PLAIN"], ["250", "502 5.5.1"]),
        ("AUTH disabled", ServerConfiguration(authMechanisms: ["PLAIN"], authDisabled: true, allowInsecureAuth: true),
         ConnectionFacts(), ["EHLO c", "AUTH PLAIN", "MAIL FROM:<> AUTH=<>"], ["250", "502 5.5.1", "555 5.5.4"]),
        ("AUTH on an insecure connection", ServerConfiguration(authMechanisms: ["PLAIN"]), ConnectionFacts(),
         ["EHLO c", "AUTH PLAIN"], ["250", "538 5.7.11"]),
        ("AUTH sequence", ServerConfiguration(authMechanisms: ["PLAIN", "LOGIN"]), ConnectionFacts(tlsActive: true),
         ["AUTH PLAIN", "EHLO c", "AUTH CRAM-MD5", "MAIL FROM:<>", "AUTH PLAIN", "RSET", "AUTH login", "AUTH PLAIN"],
         ["503 5.5.1", "250", "504 5.5.4", "250 2.1.0", "503 5.5.1", "250 2.0.0", "235 2.7.0", "503 5.5.1"]),
        ("AUTH allowed insecurely when configured", ServerConfiguration(authMechanisms: ["PLAIN"], allowInsecureAuth: true),
         ConnectionFacts(), ["EHLO c", "AUTH PLAIN"], ["250", "235 2.7.0"]),
        ("AUTH from a trusted network without TLS", ServerConfiguration(authMechanisms: ["PLAIN"]),
         ConnectionFacts(trusted: true), ["EHLO c", "AUTH PLAIN"], ["250", "235 2.7.0"]),
        ("XCLIENT not permitted", ServerConfiguration(), ConnectionFacts(), ["XCLIENT ADDR=192.0.2.1"], ["550 5.7.0"]),
        ("XCLIENT permitted", ServerConfiguration(), ConnectionFacts(xclientPermitted: true),
         ["EHLO c", "MAIL FROM:<>", "XCLIENT ADDR=192.0.2.1", "RSET", "XCLIENT ADDR=192.0.2.1", "MAIL FROM:<>", "EHLO c"],
         ["250", "250 2.1.0", "503 5.5.1", "250 2.0.0", "220", "503 5.5.1", "250"]),
        ("EXPN, VRFY, HELP, NOOP", ServerConfiguration(), ConnectionFacts(),
         ["EHLO c", "EXPN list", "VRFY someone", "HELP", "NOOP"], ["250", "502 5.5.1", "252 2.5.0", "214 2.0.0", "250 2.0.0"]),
        ("unknown and malformed commands", ServerConfiguration(), ConnectionFacts(),
         ["FOO bar", "EHLO", "EHLO c", "MAIL FROM:<nope>", "MAIL FROM:<> SIZE=x", "MAIL FROM:<> X=1"],
         ["500 5.5.2", "501 5.5.4", "250", "501 5.1.7", "501 5.5.4", "555 5.5.4"]),
        ("error budget", ServerConfiguration(maximumErrors: 3), ConnectionFacts(),
         ["FOO", "BAR", "NOOP", "BAZ", "NOOP"], ["500 5.5.2", "500 5.5.2", "250 2.0.0", "500 5.5.2", "421 4.7.0"]),
        ("BDAT without a transaction is read and refused", ServerConfiguration(), ConnectionFacts(),
         ["BDAT 10", "EHLO c", "BDAT 10 LAST", "MAIL FROM:<>", "BDAT 5"], ["503 5.5.1", "250", "503 5.5.1", "250 2.1.0", "503 5.5.1"]),
        ("BDAT in chunks", ServerConfiguration(), ConnectionFacts(),
         ["EHLO c", "MAIL FROM:<>", "RCPT TO:<a@b.test>", "BDAT 10", "RCPT TO:<b@b.test>", "DATA", "BDAT 5", "BDAT 0 LAST", "NOOP"],
         ["250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "503 5.5.1", "503 5.5.1", "250 2.0.0", "250 2.0.0", "250 2.0.0"]),
        ("BDAT over the size limit", ServerConfiguration(maximumMessageBytes: 10), ConnectionFacts(),
         ["EHLO c", "MAIL FROM:<>", "RCPT TO:<a@b.test>", "BDAT 6", "BDAT 6", "BDAT 1 LAST"],
         ["250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "552 5.3.4", "503 5.5.1"]),
        ("LMTP BDAT LAST: one reply per recipient", lmtp, ConnectionFacts(),
         ["LHLO c", "MAIL FROM:<>", "RCPT TO:<a@b.test>", "RCPT TO:<b@b.test>", "BDAT 3", "BDAT 3 LAST"],
         ["250", "250 2.1.0", "250 2.1.5", "250 2.1.5", "250 2.0.0", "250 2.0.0", "250 2.0.0"]),
        ("a BDAT that cannot be framed closes the connection", ServerConfiguration(), ConnectionFacts(),
         ["EHLO c", "BDAT lots"], ["250", "501 5.5.4"]),
        ("BDAT with CHUNKING off closes the connection", ServerConfiguration(enableChunking: false), ConnectionFacts(),
         ["EHLO c", "BDAT 5"], ["250", "502 5.5.1"]),
        ("all recipients refused", ServerConfiguration(maximumRecipients: 0), ConnectionFacts(),
         ["EHLO c", "MAIL FROM:<>", "RCPT TO:<a@b.test>", "DATA", "BDAT 4 LAST"], ["250", "250 2.1.0", "452 4.5.3", "554 5.5.1", "554 5.5.1"]),
        ("strict paths", ServerConfiguration(strict: true), ConnectionFacts(),
         ["EHLO c", "MAIL FROM:a@b.test", "MAIL FROM:<a@b.test>"], ["250", "501 5.1.7", "250 2.1.0"]),
    ]

    @Test("every sequence gets its reply", arguments: sequences)
    func sequence(name: String, configuration: ServerConfiguration, facts: ConnectionFacts, lines: [String], expected: [String]) {
        var c = Conversation(configuration, facts: facts)
        var got: [String] = []
        for line in lines {
            got += c.send(line)
            if c.machine.phase == .receivingData { got += c.finishData() }
        }
        #expect(got == expected, "\(name)")
    }

    @Test("EHLO inside a transaction resets it like RSET (RFC 5321 §4.1.4)")
    func ehloResets() {
        var c = Conversation()
        c.send("EHLO a"); c.send("MAIL FROM:<>"); c.send("RCPT TO:<x@y.test>")
        c.send("EHLO b")
        guard case .resetTransaction = c.actions.last else { Issue.record("expected a reset"); return }
        #expect(c.machine.recipients.isEmpty)
        #expect(c.machine.helloDomain == "b")
        #expect(c.send("RCPT TO:<x@y.test>") == ["503 5.5.1"])
    }

    @Test("RSET inside a transaction asks the backend to reset; outside it does not")
    func rset() {
        var c = Conversation()
        c.send("EHLO a")
        c.send("RSET")
        guard case .reply = c.actions.last else { Issue.record("expected a plain reply"); return }
        c.send("MAIL FROM:<>")
        c.send("RSET")
        guard case .resetTransaction = c.actions.last else { Issue.record("expected a reset"); return }
    }

    @Test("capabilities follow configuration, TLS and authentication")
    func capabilities() {
        let configuration = ServerConfiguration(maximumMessageBytes: nil, authMechanisms: ["plain"], startTLSAvailable: true,
                                                enableREQUIRETLS: true, enableBINARYMIME: true, enableDSN: true)
        var c = Conversation(configuration)
        c.send("EHLO a")
        let before = Capabilities(ehloReply: c.replies.last!)
        #expect(before.contains("STARTTLS"))
        #expect(!before.contains("AUTH"))
        #expect(!before.contains("REQUIRETLS"))
        #expect(before.contains("BINARYMIME") && before.contains("DSN"))
        #expect(before["SIZE"]?.parameters == [])
        #expect(before.maximumMessageSize == nil)
        c.send("STARTTLS")
        c.send("EHLO a")
        let after = Capabilities(ehloReply: c.replies.last!)
        #expect(!after.contains("STARTTLS"))
        #expect(after.authMechanisms == ["PLAIN"])
        #expect(after.contains("requiretls"))
        c.send("AUTH PLAIN")
        c.send("EHLO a")
        #expect(!Capabilities(ehloReply: c.replies.last!).contains("AUTH"))
    }

    @Test("XCLIENT is announced to permitted clients with every attribute")
    func xclientAnnounced() {
        var c = Conversation(ServerConfiguration(), facts: ConnectionFacts(xclientPermitted: true))
        c.send("EHLO a")
        #expect(Capabilities(ehloReply: c.replies.last!)["XCLIENT"]?.parameters ==
                ["NAME", "ADDR", "PORT", "PROTO", "HELO", "LOGIN", "DESTADDR", "DESTPORT"])
    }

    @Test("AUTH= from an unauthenticated client is passed on as AUTH=<> (RFC 4954 §5)")
    func authParameterSanitised() {
        var c = Conversation(ServerConfiguration(authMechanisms: ["PLAIN"], allowInsecureAuth: true))
        c.send("EHLO a")
        c.send("MAIL FROM:<a@b.test> AUTH=someone@b.test")
        guard case .startTransaction(_, let options) = c.actions.last else { Issue.record("no transaction"); return }
        #expect(options.auth == "")
        c.send("RSET"); c.send("AUTH PLAIN")
        c.send("MAIL FROM:<a@b.test> AUTH=someone@b.test")
        guard case .startTransaction(_, let authenticatedOptions) = c.actions.last else { Issue.record("no transaction"); return }
        #expect(authenticatedOptions.auth == "someone@b.test")
    }

    @Test("a refused chunk is still read, and an oversized one aborts the message")
    func discardedChunks() {
        var c = Conversation(ServerConfiguration(maximumMessageBytes: 10))
        c.send("BDAT 7")
        #expect(c.actions.last == .discardChunk(size: 7, replies: [ServerReplies.helloFirst], abortTransaction: false))
        c.send("EHLO a"); c.send("MAIL FROM:<>"); c.send("RCPT TO:<a@b.test>")
        c.send("BDAT 11 LAST")
        #expect(c.actions.last == .discardChunk(size: 11, replies: [ServerReplies.messageTooBig], abortTransaction: true))
        #expect(c.machine.phase == .ready)
    }

    @Test("a line that is too long is answered 500 5.5.2")
    func lineTooLong() {
        var machine = ServerStateMachine(configuration: ServerConfiguration())
        #expect(machine.lineTooLong() == .reply(ServerReplies.lineTooLong))
        #expect(machine.errorCount == 1)
    }

    @Test("outcomes reported out of sequence close the session instead of corrupting it")
    func outOfSequence() {
        var machine = ServerStateMachine(configuration: ServerConfiguration())
        #expect(machine.recipientAccepted() == ServerReplies.internalState)
        #expect(machine.isClosed)
        #expect(machine.commandReceived(.noop(nil)) == .close(ServerReplies.internalState))
    }
}
