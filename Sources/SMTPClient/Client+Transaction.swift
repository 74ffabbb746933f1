import NIOCore
import SMTPCore

extension Client {
    /// How the message travels after the envelope.
    public enum BodyTransfer: Sendable, Hashable {
        /// BDAT when the transaction uses BODY=BINARYMIME, DATA otherwise.
        case automatic
        /// DATA with dot-stuffing (RFC 5321 §4.1.1.4).
        case data
        /// BDAT chunks of at most `chunkSize` octets (RFC 3030); needs CHUNKING.
        case bdat(chunkSize: Int)
    }

    /// The chunk size ``BodyTransfer/automatic`` uses for BDAT.
    public static let defaultChunkSize = 1 << 20

    /// The MAIL command line for `from` and `options`, adjusted to what the server offers:
    /// BODY=8BITMIME added when offered (as go-smtp does), SIZE, AUTH, the DSN parameters and
    /// MT-PRIORITY dropped when their extension is absent (RFC 1870, RFC 4954 §5, RFC 3461 §4,
    /// RFC 6710 §4: the priority is advice), `BY=` with by-mode N dropped likewise (RFC 2852
    /// §4.2: delivery goes on), SMTPUTF8 added for a non-ASCII sender, and an error for what
    /// cannot be honoured — `BY=` with by-mode R included, since the server could not return
    /// the message in time.
    func mailLine(from: ReversePath, options: MailOptions) throws -> (line: String, utf8: Bool, binary: Bool) {
        var options = options
        switch options.body {
        case nil:
            if capabilities.contains("8BITMIME") { options.body = .eightBitMIME }
        case .eightBitMIME:
            guard capabilities.contains("8BITMIME") else { throw SMTPClientError.extensionNotSupported("8BITMIME") }
        case .binaryMIME:
            guard capabilities.contains("BINARYMIME"), capabilities.contains("CHUNKING") else {
                throw SMTPClientError.extensionNotSupported("BINARYMIME")
            }
        case .sevenBit:
            break
        }
        if !capabilities.contains("SIZE") { options.size = nil }
        if from.address.map({ !$0.isASCII }) ?? false { options.utf8 = true }
        if options.utf8 && !capabilities.contains("SMTPUTF8") { throw SMTPClientError.extensionNotSupported("SMTPUTF8") }
        if options.requireTLS && !capabilities.contains("REQUIRETLS") { throw SMTPClientError.extensionNotSupported("REQUIRETLS") }
        if !capabilities.contains("AUTH") { options.auth = nil }
        if !capabilities.contains("DSN") {
            options.dsnReturn = nil
            options.envelopeID = nil
        }
        if let deliverBy = options.deliverBy, !capabilities.contains("DELIVERBY") {
            guard deliverBy.mode == .notify else { throw SMTPClientError.extensionNotSupported("DELIVERBY") }
            options.deliverBy = nil
        }
        if !capabilities.contains("MT-PRIORITY") { options.priority = nil }
        return (Command.mail(from: from, options: options).line, options.utf8, options.body == .binaryMIME)
    }

    /// The RCPT command line; DSN parameters are dropped when DSN is not offered, `RRVS=` with
    /// action C likewise while action R is an error (RFC 7293 §3.3), other extensions'
    /// parameters are sent as given, and a non-ASCII address needs a transaction that
    /// announced SMTPUTF8.
    func rcptLine(to: Address, options: RcptOptions, utf8: Bool) throws -> String {
        guard to.isASCII || utf8 else {
            throw capabilities.contains("SMTPUTF8")
                ? SMTPClientError.invalidArgument("\(to) needs SMTPUTF8 in MAIL (MailOptions.utf8)")
                : SMTPClientError.extensionNotSupported("SMTPUTF8")
        }
        var sent = options
        if !capabilities.contains("DSN") {
            sent.notify = nil
            sent.originalRecipient = nil
        }
        if let since = options.recipientValidSince, !capabilities.contains("RRVS") {
            guard since.action == .continue else { throw SMTPClientError.extensionNotSupported("RRVS") }
            sent.recipientValidSince = nil
        }
        return Command.rcpt(to: to, options: sent).line
    }

    /// Starts a transaction with MAIL FROM (RFC 5321 §4.1.1.2). A refusal throws the server's
    /// `SMTPError`.
    public func mail(from: ReversePath, options: MailOptions = MailOptions()) async throws {
        try checkUsable()
        try await ensureHello()
        let (line, utf8, binary) = try mailLine(from: from, options: options)
        try await command(line, expecting: 250...250)
        endTransaction()
        transactionUTF8 = utf8
        transactionBinary = binary
    }

    /// MAIL FROM with an address given as text; an empty string is the null reverse path.
    public func mail(from: String, options: MailOptions = MailOptions()) async throws {
        try await mail(from: try Self.reversePath(from), options: options)
    }

    /// Adds a recipient with RCPT TO (RFC 5321 §4.1.1.3); 250 and 251 accept it.
    public func rcpt(to: Address, options: RcptOptions = RcptOptions()) async throws {
        try checkUsable()
        try await ensureHello()
        try await command(try rcptLine(to: to, options: options, utf8: transactionUTF8), expecting: 250...251)
        recipients.append(to)
    }

    /// RCPT TO with an address given as text.
    public func rcpt(to: String, options: RcptOptions = RcptOptions()) async throws {
        try await rcpt(to: try Self.address(to), options: options)
    }

    static func address(_ text: String) throws -> Address {
        guard let address = Address(text) else { throw SMTPClientError.invalidArgument("not a mailbox: \(text)") }
        return address
    }

    static func reversePath(_ text: String) throws -> ReversePath {
        text.isEmpty ? .null : .mailbox(try address(text))
    }

    /// Starts the message: sends DATA (or prepares BDAT chunks) and returns the writer that
    /// streams it. Finish the writer before calling anything else.
    public func data(transfer: BodyTransfer = .automatic) async throws -> MessageWriter {
        try checkUsable()
        guard !recipients.isEmpty else { throw SMTPClientError.invalidState("no recipient was accepted") }
        let mode = try writerMode(transfer)
        if case .data = mode {
            try await command("DATA", expecting: 354...354)
        }
        writing = true
        return MessageWriter(client: self, mode: mode)
    }

    func writerMode(_ transfer: BodyTransfer) throws -> MessageWriter.Mode {
        switch transfer {
        case .automatic:
            return transactionBinary ? .bdat(chunkSize: Self.defaultChunkSize) : .data
        case .data:
            guard !transactionBinary else {
                throw SMTPClientError.invalidArgument("BODY=BINARYMIME can only be sent with BDAT (RFC 3030 §3)")
            }
            return .data
        case .bdat(let size):
            guard capabilities.contains("CHUNKING") else { throw SMTPClientError.extensionNotSupported("CHUNKING") }
            guard size > 0 else { throw SMTPClientError.invalidArgument("BDAT chunk size must be positive") }
            return .bdat(chunkSize: size)
        }
    }

    /// Sends a whole envelope: MAIL, every RCPT and (for DATA) the DATA command — in one write
    /// when the server offers PIPELINING (RFC 2920 §3), their replies then matched in order —
    /// and returns the writer for the message with the outcome of every recipient.
    ///
    /// A refused sender throws its `SMTPError`; if every recipient is refused, throws
    /// ``SMTPClientError/allRecipientsRefused(_:)``; in both cases the transaction is reset. A
    /// transaction with a non-ASCII address announces SMTPUTF8 by itself.
    public func beginMessage(from: ReversePath, to: [Address], mailOptions: MailOptions = MailOptions(),
                             rcptOptions: RcptOptions = RcptOptions(),
                             transfer: BodyTransfer = .automatic) async throws -> (writer: MessageWriter, recipients: [RecipientStatus]) {
        try checkUsable()
        guard !to.isEmpty else { throw SMTPClientError.invalidArgument("no recipients") }
        try await ensureHello()
        var mailOptions = mailOptions
        if to.contains(where: { !$0.isASCII }) { mailOptions.utf8 = true }
        let (mailLine, utf8, binary) = try mailLine(from: from, options: mailOptions)
        let rcptLines = try to.map { try rcptLine(to: $0, options: rcptOptions, utf8: utf8) }
        for line in [mailLine] + rcptLines { try Self.checkLine(line) }
        endTransaction()
        transactionUTF8 = utf8
        transactionBinary = binary
        let mode = try writerMode(transfer)
        let sendsData = mode == .data

        var statuses: [RecipientStatus] = []
        if capabilities.contains("PIPELINING") {
            try await transport.send([mailLine] + rcptLines + (sendsData ? ["DATA"] : []))
            let mailReply = try await transport.readReply(timeout: configuration.commandTimeout)
            for recipient in to {
                statuses.append(RecipientStatus(recipient: recipient, reply: try await transport.readReply(timeout: configuration.commandTimeout)))
            }
            let dataReply = sendsData ? try await transport.readReply(timeout: configuration.commandTimeout) : nil
            guard mailReply.code == 250 else {
                if dataReply?.code == 354 { try await abandonData() }
                try? await reset()
                throw Self.failure(mailReply)
            }
            recipients = statuses.filter(\.accepted).map(\.recipient)
            if let dataReply, dataReply.code != 354 {
                // RFC 2920 §3.1: DATA fails when no recipient was accepted.
                let noneAccepted = recipients.isEmpty
                try? await reset()
                throw noneAccepted ? SMTPClientError.allRecipientsRefused(statuses) : Self.failure(dataReply)
            }
            if recipients.isEmpty {
                if dataReply?.code == 354 { try await abandonData() }
                try? await reset()
                throw SMTPClientError.allRecipientsRefused(statuses)
            }
        } else {
            let mailReply = try await command(mailLine)
            guard mailReply.code == 250 else { throw Self.failure(mailReply) }
            for (recipient, line) in zip(to, rcptLines) {
                statuses.append(RecipientStatus(recipient: recipient, reply: try await command(line)))
            }
            recipients = statuses.filter(\.accepted).map(\.recipient)
            guard !recipients.isEmpty else {
                try? await reset()
                throw SMTPClientError.allRecipientsRefused(statuses)
            }
            if sendsData { try await command("DATA", expecting: 354...354) }
        }
        writing = true
        return (MessageWriter(client: self, mode: mode), statuses)
    }

    /// A server accepted DATA although the transaction failed: send an empty message's end and
    /// ignore its reply, which can only be a refusal.
    private func abandonData() async throws {
        try await transport.send(["."])
        _ = try await transport.readReply(timeout: configuration.submissionTimeout)
    }
}
