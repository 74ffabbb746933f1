import ProtocolFixtures
import Testing
@testable import SMTPCore

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

    @Test("a custom extension is announced and its parameters reach the backend, unknown ones do not")
    func customExtension() {
        var configuration = ServerConfiguration(hostname: "mx.test")
        configuration.customExtensions = [CustomExtension(keyword: "XRCPTFORWARD", rcptParameters: ["XRCPTFORWARD"]),
                                          CustomExtension(keyword: "X-PRIORITY-MAIL", parameters: ["1", "2"], mailParameters: ["X-PRIO"])]
        var c = Conversation(configuration)
        #expect(c.send("EHLO client.test") == ["250"])
        #expect(c.replies.last?.lines.contains("XRCPTFORWARD") == true && c.replies.last?.lines.contains("X-PRIORITY-MAIL 1 2") == true)
        guard let command = try? CommandParser().parse("MAIL FROM:<> x-prio=high") else { Issue.record("not parsed"); return }
        let mail = c.machine.commandReceived(command)
        guard case .startTransaction(_, let options) = mail else { Issue.record("\(mail)"); return }
        #expect(options.extensions == [ESMTPParameter(keyword: "X-PRIO", value: "high")])
    }

    @Test("DELIVERBY, MT-PRIORITY and RRVS: 555 until enabled, then announced, checked and handed on")
    func deliverByPriorityRRVS() {
        var off = Conversation(ServerConfiguration(hostname: "mx.test"))
        off.send("EHLO client.test")
        #expect(off.send("MAIL FROM:<a@b.test> BY=60;N") == ["555 5.5.4"])
        #expect(off.send("MAIL FROM:<a@b.test> MT-PRIORITY=3") == ["555 5.5.4"])
        #expect(off.send("MAIL FROM:<a@b.test>") == ["250 2.1.0"])
        #expect(off.send("RCPT TO:<c@d.test> RRVS=2014-04-03T23:01:00Z") == ["555 5.5.4"])

        var configuration = ServerConfiguration(hostname: "mx.test")
        configuration.enableDELIVERBY = true
        configuration.minimumDeliverByTime = 120
        configuration.enableMTPRIORITY = true
        configuration.mtPriorityPolicy = "MIXER"
        configuration.enableRRVS = true
        var c = Conversation(configuration)
        c.send("EHLO client.test")
        let lines = c.replies.last?.lines ?? []
        #expect(lines.contains("DELIVERBY 120") && lines.contains("MT-PRIORITY MIXER") && lines.contains("RRVS"))
        // RFC 2852 §4: by-mode R needs a positive time not under min-by-time; N may be late already.
        #expect(c.send("MAIL FROM:<a@b.test> BY=0;R") == ["501 5.5.4"])
        #expect(c.send("MAIL FROM:<a@b.test> BY=60;R") == ["555 5.5.4"])
        #expect(c.replies.last?.lines == ["Error: BY time less than the minimum of 120 seconds"])
        guard let command = try? CommandParser().parse("MAIL FROM:<a@b.test> BY=-30;NT MT-PRIORITY=-4") else {
            Issue.record("not parsed"); return
        }
        let mail = c.machine.commandReceived(command)
        guard case .startTransaction(_, let options) = mail else { Issue.record("\(mail)"); return }
        #expect(options.deliverBy == DeliverBy(seconds: -30, mode: .notify, trace: true))
        #expect(options.priority == -4)
        _ = c.machine.senderAccepted()
        guard let rcpt = try? CommandParser().parse("RCPT TO:<c@d.test> RRVS=2014-04-03T23:01:00+02:00;C") else {
            Issue.record("not parsed"); return
        }
        guard case .addRecipient(_, let rcptOptions) = c.machine.commandReceived(rcpt) else { Issue.record("refused"); return }
        #expect(rcptOptions.recipientValidSince?.secondsSince1970 == 1_396_558_860)
        #expect(rcptOptions.recipientValidSince?.action == .continue)
        #expect(rcptOptions.recipientValidSince?.description == "2014-04-03T23:01:00+02:00;C")
    }

    @Test("RFC 3339 date-times: offsets, fractions, leap days, and what is not one")
    func rfc3339() {
        #expect(RFC3339.secondsSince1970("1970-01-01T00:00:00Z") == 0)
        #expect(RFC3339.secondsSince1970("1985-04-12T23:20:50.52Z") == 482_196_050.52)
        #expect(RFC3339.secondsSince1970("1996-12-19T16:39:57-08:00") == 851_042_397)
        #expect(RFC3339.secondsSince1970("1990-12-31t23:59:60z") == 662_688_000)
        #expect(RFC3339.secondsSince1970("2024-02-29T12:00:00Z") == 1_709_208_000)
        #expect(RFC3339.secondsSince1970("1969-12-31T23:59:59Z") == -1)
        for bad in ["2023-02-29T12:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01 00:00:00Z", "2024-01-01T00:00:00",
                    "2024-01-01T00:00:00+0100", "2024-01-01T00:00:00Zjunk", "24-01-01T00:00:00Z"] {
            #expect(RFC3339.secondsSince1970(Substring(bad)) == nil, "\(bad)")
        }
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

    @Test("every sequence gets its reply", arguments: ProtocolSequence.all)
    func sequence(_ sequence: ProtocolSequence) {
        #expect(sequence.replayAgainstStateMachine().flatMap { $0 } == sequence.expected, "\(sequence.name)")
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
        #expect(Capabilities(ehloReply: c.replies.last!)["XFORWARD"] == nil)
    }

    @Test("XFORWARD is announced with every attribute; what it says lasts until the transaction ends")
    func xforwardKeptForOneTransaction() throws {
        var c = Conversation(ServerConfiguration(), facts: ConnectionFacts(xforwardPermitted: true))
        c.send("EHLO a")
        #expect(Capabilities(ehloReply: c.replies.last!)["XFORWARD"]?.parameters ==
                ["NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE"])
        c.send("XFORWARD NAME=mail.example.org ADDR=IPV6:2001:db8::1 PORT=4711")
        c.send("XFORWARD HELO=[2001+3Adb8+3A+3A1] SOURCE=remote NAME=[TEMPUNAVAIL]")
        let forwarded = ForwardedClient(attributes: c.machine.forwarded)
        #expect(forwarded.name == nil && forwarded.address == "2001:db8::1" && forwarded.port == 4711)
        #expect(forwarded.helo == "[2001:db8::1]" && forwarded.isLocal == false)
        let command = try CommandParser().parse("XFORWARD NAME=mail.example.org ADDR=IPV6:2001:db8::1 HELO=a+20b")
        #expect(command.line == "XFORWARD NAME=mail.example.org ADDR=IPV6:2001:db8::1 HELO=a+20b")
        c.send("MAIL FROM:<>")
        #expect(c.machine.forwarded.count == 6)
        c.send("RCPT TO:<x@y.test>")
        c.send("DATA")
        c.finishData()
        #expect(c.machine.forwarded.isEmpty)
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
