import SMTPCore

/// Drives a state machine with command lines the way a server would, with a scripted backend,
/// and records the replies as `code enhanced-code` (the text is checked separately).
public struct Conversation {
    public var machine: ServerStateMachine
    public var parser: CommandParser
    public var rejectSender: (ReversePath) -> SMTPError? = { _ in nil }
    public var rejectRecipient: (Address) -> SMTPError? = { _ in nil }
    public var messageOutcome: MessageOutcome = .accepted
    public var authSucceeds = true
    public var xclientAllowed = true
    /// Every action the machine asked for, in order.
    public var actions: [ServerAction] = []
    /// Every reply, in order.
    public var replies: [Reply] = []

    public init(_ configuration: ServerConfiguration = ServerConfiguration(), facts: ConnectionFacts = ConnectionFacts()) {
        machine = ServerStateMachine(configuration: configuration, facts: facts)
        parser = CommandParser(strict: configuration.strict)
    }

    public static func summary(_ reply: Reply) -> String {
        if let code = reply.enhancedCode.resolved(forReplyCode: reply.code) { return "\(reply.code) \(code)" }
        return "\(reply.code)"
    }

    /// Sends one line; returns the summaries of the replies it caused.
    @discardableResult
    public mutating func send(_ line: String) -> [String] {
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
    public mutating func finishData(_ outcome: MessageOutcome? = nil) -> [String] {
        record(machine.messageProcessed(outcome ?? messageOutcome))
    }

    public mutating func perform(_ action: ServerAction) -> [String] {
        actions.append(action)
        switch action {
        case .reply(let reply), .close(let reply), .resetTransaction(let reply), .receiveData(let reply),
             .refuseRecipient(_, _, let reply):
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
        case .xforward:
            return record([xclientAllowed ? machine.xforwardAccepted() : machine.xforwardRejected()])
        }
    }

    public mutating func record(_ new: [Reply]) -> [String] {
        replies += new
        return new.map(Self.summary)
    }
}


/// A conversation and the replies it must get, as `code enhanced-code` summaries: the contract
/// of docs/protocol.md, checked against the state machine and, over a socket, the server.
public struct ProtocolSequence: Sendable, CustomStringConvertible {
    public let name: String
    public let configuration: ServerConfiguration
    public let facts: ConnectionFacts
    public let lines: [String]
    public let expected: [String]

    public var description: String { name }

    /// Every sequence.
    public static let all: [ProtocolSequence] = table.map {
        ProtocolSequence(name: $0.0, configuration: $0.1, facts: $0.2, lines: $0.3, expected: $0.4)
    }

    static let lmtp = ServerConfiguration(lmtp: true, hostname: "lmtp.test")

    static let customExtensions: ServerConfiguration = {
        var configuration = ServerConfiguration()
        configuration.customExtensions = [CustomExtension(keyword: "XRCPTFORWARD", rcptParameters: ["XRCPTFORWARD"])]
        return configuration
    }()

    static let table: [(String, ServerConfiguration, ConnectionFacts, [String], [String])] = [
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
        ("unknown MAIL and RCPT parameters: 555 unless a custom extension brings them", ServerConfiguration(), ConnectionFacts(),
         ["EHLO c", "MAIL FROM:<> X-UNKNOWN=1", "MAIL FROM:<>", "RCPT TO:<a@b.test> SIZE=1", "RCPT TO:<a@b.test> XRCPTFORWARD=eA"],
         ["250", "555 5.5.4", "250 2.1.0", "555 5.5.4", "555 5.5.4"]),
        ("a custom extension's RCPT parameter accepted, others still 555", customExtensions, ConnectionFacts(),
         ["EHLO c", "MAIL FROM:<> XTRACE=1", "MAIL FROM:<>", "RCPT TO:<a@b.test> XRCPTFORWARD=eA", "RCPT TO:<b@b.test> XOTHER"],
         ["250", "555 5.5.4", "250 2.1.0", "250 2.1.5", "555 5.5.4"]),
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
        ("XFORWARD not permitted", ServerConfiguration(), ConnectionFacts(), ["EHLO c", "XFORWARD ADDR=192.0.2.1"], ["250", "550 5.7.0"]),
        ("XFORWARD permitted: after the greeting, before MAIL, repeatable", ServerConfiguration(),
         ConnectionFacts(xforwardPermitted: true),
         ["XFORWARD NAME=a.test", "EHLO c", "XFORWARD NAME=a.test ADDR=192.0.2.1 PORT=25", "XFORWARD PROTO=ESMTP HELO=a.test IDENT=4Qx SOURCE=REMOTE",
          "MAIL FROM:<>", "XFORWARD ADDR=192.0.2.1", "RSET", "XFORWARD", "XFORWARD TEAM=x", "XFORWARD ADDR=300.1.1.1",
          "XFORWARD SOURCE=ELSEWHERE", "XFORWARD NAME=[UNAVAILABLE] ADDR=[TEMPUNAVAIL]"],
         ["503 5.5.1", "250", "250 2.0.0", "250 2.0.0", "250 2.1.0", "503 5.5.1", "250 2.0.0", "501 5.5.4", "501 5.5.4",
          "501 5.5.4", "501 5.5.4", "250 2.0.0"]),
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
}

extension ProtocolSequence {
    /// Runs the sequence through the state machine with a backend that accepts everything;
    /// returns the reply summaries caused by each line (DATA includes the end-of-data replies).
    public func replayAgainstStateMachine() -> [[String]] {
        var conversation = Conversation(configuration, facts: facts)
        return lines.map { line in
            var replies = conversation.send(line)
            if conversation.machine.phase == .receivingData { replies += conversation.finishData() }
            return replies
        }
    }
}
