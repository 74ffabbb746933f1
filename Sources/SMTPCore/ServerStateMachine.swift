/// The server side of an SMTP/LMTP session as a pure state machine (RFC 5321 §4.1.4, RFC 2033,
/// RFC 3030, RFC 3207, RFC 4954): commands and outcomes in, ``ServerAction``s and replies out.
///
/// The transport feeds it every parsed command; the machine checks the sequence and the
/// parameters against the configuration and the connection's facts, and answers either with
/// a reply or with work for the transport and the backend. Every bad sequence gets its reply
/// here, once, so server and agent behave the same. No I/O happens here.
public struct ServerStateMachine: Sendable {
    /// The protocol settings.
    public let configuration: ServerConfiguration
    /// The connection's facts; ``tlsEstablished()`` sets `tlsActive`.
    public private(set) var facts: ConnectionFacts

    /// Where the session is.
    public enum Phase: Hashable, Sendable {
        /// No HELO/EHLO/LHLO yet (also after STARTTLS and XCLIENT).
        case awaitingHello
        /// Greeted, no transaction.
        case ready
        /// MAIL accepted; recipients being collected.
        case transaction
        /// Between 354 and the end of data.
        case receivingData
        /// At least one BDAT chunk accepted, LAST not yet seen.
        case receivingChunks
        /// A backend decision or a TLS/SASL exchange is outstanding.
        case waiting
        /// QUIT or a fatal error: nothing more is accepted.
        case closed
    }

    /// The current phase.
    public private(set) var phase: Phase = .awaitingHello

    /// Whether the connection must be closed once the last reply is written (QUIT, too many
    /// errors, an unframeable BDAT, or an outcome reported out of sequence).
    public var isClosed: Bool { phase == .closed }
    /// The HELO/EHLO/LHLO argument, once greeted.
    public private(set) var helloDomain: String?
    /// Whether the client used EHLO or LHLO (extensions allowed) rather than HELO.
    public private(set) var extended = false
    /// Whether AUTH succeeded on this connection.
    public private(set) var authenticated = false
    /// The sender of the current transaction.
    public private(set) var sender: ReversePath?
    /// The vetted MAIL parameters of the current transaction.
    public private(set) var mailOptions = MailOptions()
    /// The recipients accepted so far, in RCPT order; one LMTP reply each (RFC 2033 §4.2).
    public private(set) var recipients: [Address] = []
    /// Recipients refused so far in this transaction.
    public private(set) var rejectedRecipientCount = 0
    /// Octets received in BDAT chunks of this transaction.
    public private(set) var chunkedOctets = 0
    /// Negative replies so far.
    public private(set) var errorCount = 0
    /// What XFORWARD said of the client the next message comes from (Postfix
    /// XFORWARD_README): gathered over XFORWARD commands before MAIL, forgotten when the
    /// transaction ends (the message, RSET or a new greeting).
    public private(set) var forwarded: [XForwardAttribute] = []

    private enum Pending: Hashable, Sendable {
        case none
        case mail(ReversePath, MailOptions)
        case rcpt(Address)
        case data
        case chunk(size: Int, last: Bool)
        case tls
        case auth
        case xclient
        case xforward([XForwardAttribute])
    }
    private var pending: Pending = .none
    private var phaseBeforeWaiting: Phase = .awaitingHello

    /// Creates the machine for a new connection.
    public init(configuration: ServerConfiguration, facts: ConnectionFacts = ConnectionFacts()) {
        self.configuration = configuration
        self.facts = facts
    }

    // MARK: - Greeting and capabilities

    /// The 220 greeting (RFC 5321 §4.2, no enhanced code per RFC 2034 §3).
    public var greeting: Reply {
        Reply(code: 220, enhancedCode: .omitted,
              text: "\(configuration.hostname) \(configuration.lmtp ? "LMTP" : "ESMTP") \(configuration.softwareName)")
    }

    /// The extensions offered now; they depend on TLS and authentication state.
    public var capabilities: Capabilities {
        var list = Capabilities()
        if configuration.enablePipelining { list.append(Capability("PIPELINING")) }
        list.append(Capability("8BITMIME"))
        list.append(Capability("ENHANCEDSTATUSCODES"))
        if configuration.enableChunking { list.append(Capability("CHUNKING")) }
        if startTLSOffered { list.append(Capability("STARTTLS")) }
        if authOffered { list.append(Capability("AUTH", configuration.authMechanisms)) }
        if configuration.enableSMTPUTF8 { list.append(Capability("SMTPUTF8")) }
        if requireTLSOffered { list.append(Capability("REQUIRETLS")) }
        if configuration.enableBINARYMIME && configuration.enableChunking { list.append(Capability("BINARYMIME")) }
        if configuration.enableDSN { list.append(Capability("DSN")) }
        list.append(Capability("SIZE", configuration.maximumMessageBytes.map { [String($0)] } ?? []))
        if let limit = configuration.maximumRecipients { list.append(Capability("LIMITS", ["RCPTMAX=\(limit)"])) }
        if configuration.enableDELIVERBY {
            list.append(Capability("DELIVERBY", configuration.minimumDeliverByTime > 0 ? [String(configuration.minimumDeliverByTime)] : []))
        }
        if configuration.enableMTPRIORITY { list.append(Capability("MT-PRIORITY", configuration.mtPriorityPolicy.map { [$0] } ?? [])) }
        if configuration.enableRRVS { list.append(Capability("RRVS")) }
        for custom in configuration.customExtensions { list.append(Capability(custom.keyword, custom.parameters)) }
        if facts.xclientPermitted {
            list.append(Capability("XCLIENT", XClientAttribute.Name.allCases.map(\.rawValue)))
        }
        if facts.xforwardPermitted {
            list.append(Capability("XFORWARD", XForwardAttribute.Name.allCases.map(\.rawValue)))
        }
        return list
    }

    private var startTLSOffered: Bool { configuration.startTLSAvailable && !facts.tlsActive }
    private var authOffered: Bool {
        !configuration.authDisabled && !configuration.authMechanisms.isEmpty && !authenticated
            && (facts.isSecure || configuration.allowInsecureAuth)
    }
    private var requireTLSOffered: Bool { configuration.enableREQUIRETLS && facts.isSecure }

    // MARK: - Input

    /// Handles a line the framer reported as too long (RFC 5321 §4.5.3.1.4).
    public mutating func lineTooLong() -> ServerAction {
        fail(ServerReplies.lineTooLong)
    }

    /// Handles a line that did not parse.
    public mutating func parseFailed(_ failure: CommandParseError) -> ServerAction {
        if let limitReached = errorLimitAction() { return limitReached }
        // A BDAT whose size cannot be read leaves the following octets unframeable: the only
        // safe continuation is to close (anything else would execute message data as commands).
        if failure.verb == .bdat {
            phase = .closed
            errorCount += 1
            return .close(failure.error.reply)
        }
        return fail(failure.error.reply)
    }

    /// Handles one parsed command.
    public mutating func commandReceived(_ command: Command) -> ServerAction {
        if let limitReached = errorLimitAction() { return limitReached }
        switch phase {
        case .closed, .receivingData, .waiting:
            phase = .closed
            return .close(ServerReplies.internalState)
        case .awaitingHello, .ready, .transaction, .receivingChunks:
            break
        }
        switch command {
        case .helo(let domain): return hello(domain, verb: .helo)
        case .ehlo(let domain): return hello(domain, verb: .ehlo)
        case .lhlo(let domain): return hello(domain, verb: .lhlo)
        case .mail(let from, let options): return mail(from, options)
        case .rcpt(let to, let options): return rcpt(to, options)
        case .data: return data()
        case .bdat(let size, let last): return bdat(size: size, last: last)
        case .rset:
            if phase == .awaitingHello { return .reply(ServerReplies.ok) }
            let hadTransaction = phase != .ready
            clearTransaction()
            phase = .ready
            return hadTransaction ? .resetTransaction(ServerReplies.ok) : .reply(ServerReplies.ok)
        case .noop: return .reply(ServerReplies.ok)
        case .help: return .reply(ServerReplies.help)
        case .vrfy: return .reply(ServerReplies.cannotVerify)
        case .expn: return fail(ServerReplies.expnNotImplemented)
        case .quit:
            phase = .closed
            return .close(ServerReplies.bye)
        case .startTLS: return startTLS()
        case .auth(let mechanism, let response): return auth(mechanism, response)
        case .xclient(let attributes): return xclient(attributes)
        case .xforward(let attributes): return xforward(attributes)
        }
    }

    // MARK: - Commands

    private mutating func hello(_ domain: String, verb: Command.Verb) -> ServerAction {
        if configuration.lmtp && verb != .lhlo { return fail(ServerReplies.useLHLO) }
        if !configuration.lmtp && verb == .lhlo { return fail(ServerReplies.useEHLO) }
        let hadTransaction = phase == .transaction || phase == .receivingChunks
        clearTransaction()
        helloDomain = domain
        extended = verb != .helo
        phase = .ready
        let reply = extended
            ? capabilities.reply(greetingLine: configuration.hostname)
            : Reply(code: 250, enhancedCode: .omitted, text: configuration.hostname)
        // RFC 5321 §4.1.4: EHLO inside a transaction resets it like RSET.
        return hadTransaction ? .resetTransaction(reply) : .reply(reply)
    }

    private var helloFirst: Reply { configuration.lmtp ? ServerReplies.lhloFirst : ServerReplies.helloFirst }

    private mutating func mail(_ from: ReversePath, _ options: MailOptions) -> ServerAction {
        switch phase {
        case .awaitingHello: return fail(helloFirst)
        case .transaction, .receivingChunks: return fail(ServerReplies.nestedMail)
        default: break
        }
        var options = options
        // Parameters of extensions not offered now (RFC 5321 §4.1.1.11: 555).
        if options.body == .binaryMIME && !(configuration.enableBINARYMIME && configuration.enableChunking) {
            return fail(ServerReplies.unsupportedParameter("BODY=BINARYMIME"))
        }
        if options.utf8 && !configuration.enableSMTPUTF8 { return fail(ServerReplies.unsupportedParameter("SMTPUTF8")) }
        if options.requireTLS && !requireTLSOffered { return fail(ServerReplies.unsupportedParameter("REQUIRETLS")) }
        if !configuration.enableDSN {
            if options.dsnReturn != nil { return fail(ServerReplies.unsupportedParameter("RET")) }
            if options.envelopeID != nil { return fail(ServerReplies.unsupportedParameter("ENVID")) }
        }
        if options.auth != nil {
            if configuration.authDisabled || configuration.authMechanisms.isEmpty {
                return fail(ServerReplies.unsupportedParameter("AUTH"))
            }
            // RFC 4954 §5: from an unauthenticated client, AUTH= is treated as AUTH=<>.
            if !authenticated { options.auth = "" }
        }
        if let deliverBy = options.deliverBy {
            guard configuration.enableDELIVERBY else { return fail(ServerReplies.unsupportedParameter("BY")) }
            if deliverBy.mode == .returnMessage {
                // RFC 2852 §4: with R the time must be positive and not under min-by-time.
                if deliverBy.seconds <= 0 { return fail(ServerReplies.deliverByExpired) }
                if deliverBy.seconds < configuration.minimumDeliverByTime {
                    return fail(ServerReplies.deliverByTooShort(configuration.minimumDeliverByTime))
                }
            }
        }
        if options.priority != nil && !configuration.enableMTPRIORITY {
            return fail(ServerReplies.unsupportedParameter("MT-PRIORITY"))
        }
        if let unknown = options.extensions.first(where: { parameter in
            !configuration.customExtensions.contains { $0.mailParameters.contains(parameter.keyword) }
        }) {
            return fail(ServerReplies.unsupportedParameter(String(unknown.keyword.prefix(64))))
        }
        if let size = options.size, let limit = configuration.maximumMessageBytes, size > limit {
            return fail(ServerReplies.messageTooBig)
        }
        if let address = from.address, !address.isASCII, !options.utf8 {
            return fail(ServerReplies.needSMTPUTF8)
        }
        wait(for: .mail(from, options))
        return .startTransaction(from: from, options: options)
    }

    private mutating func rcpt(_ to: Address, _ options: RcptOptions) -> ServerAction {
        switch phase {
        case .awaitingHello: return fail(helloFirst)
        case .ready: return fail(ServerReplies.needMail)
        case .receivingChunks: return fail(ServerReplies.bdatInProgress)
        default: break
        }
        if !configuration.enableDSN {
            if options.notify != nil { return fail(ServerReplies.unsupportedParameter("NOTIFY")) }
            if options.originalRecipient != nil { return fail(ServerReplies.unsupportedParameter("ORCPT")) }
        }
        if options.recipientValidSince != nil && !configuration.enableRRVS {
            return fail(ServerReplies.unsupportedParameter("RRVS"))
        }
        if let unknown = options.extensions.first(where: { parameter in
            !configuration.customExtensions.contains { $0.rcptParameters.contains(parameter.keyword) }
        }) {
            return fail(ServerReplies.unsupportedParameter(String(unknown.keyword.prefix(64))))
        }
        if !to.isASCII && !mailOptions.utf8 {
            rejectedRecipientCount += 1
            return .refuseRecipient(to, options, counted(ServerReplies.needSMTPUTF8))
        }
        if let limit = configuration.maximumRecipients, recipients.count >= limit {
            rejectedRecipientCount += 1
            return .refuseRecipient(to, options, counted(ServerReplies.tooManyRecipients))
        }
        wait(for: .rcpt(to))
        return .addRecipient(to, options)
    }

    /// Why DATA or BDAT cannot start now, or `nil` when they can.
    private var messageRefusal: Reply? {
        switch phase {
        case .awaitingHello: return helloFirst
        case .ready: return ServerReplies.needMail
        default: break
        }
        if recipients.isEmpty {
            return rejectedRecipientCount > 0 ? ServerReplies.noValidRecipients : ServerReplies.needRcpt
        }
        return nil
    }

    private mutating func data() -> ServerAction {
        if let refusal = messageRefusal { return fail(refusal) }
        if phase == .receivingChunks { return fail(ServerReplies.dataAfterBDAT) }
        if mailOptions.body == .binaryMIME { return fail(ServerReplies.binaryNeedsBDAT) }
        pending = .data
        phase = .receivingData
        return .receiveData(ServerReplies.startMailInput)
    }

    private mutating func bdat(size: Int, last: Bool) -> ServerAction {
        guard configuration.enableChunking else {
            // The octets cannot be told from commands without CHUNKING: refuse and close.
            phase = .closed
            errorCount += 1
            return .close(ServerReplies.notImplemented)
        }
        if let refusal = messageRefusal {
            errorCount += 1
            return .discardChunk(size: size, replies: [refusal], abortTransaction: false)
        }
        let (total, overflow) = chunkedOctets.addingReportingOverflow(size)
        if let limit = configuration.maximumMessageBytes, overflow || total > limit {
            // RFC 3030 §2 / RFC 1870: refuse the message, keep the session in sync.
            let replies = finalReplies(for: .failed(SMTPError.dataTooLarge), last: last)
            errorCount += 1
            clearTransaction()
            phase = .ready
            return .discardChunk(size: size, replies: replies, abortTransaction: true)
        }
        chunkedOctets = total
        pending = .chunk(size: size, last: last)
        phase = .waiting
        phaseBeforeWaiting = .receivingChunks
        return .receiveChunk(size: size, last: last)
    }

    private mutating func startTLS() -> ServerAction {
        guard configuration.startTLSAvailable else { return fail(ServerReplies.notImplemented) }
        if facts.tlsActive { return fail(ServerReplies.tlsAlreadyActive) }
        if phase == .awaitingHello { return fail(helloFirst) }
        if phase != .ready { return fail(ServerReplies.transactionInProgress) }
        wait(for: .tls)
        return .startTLS(ServerReplies.readyToStartTLS)
    }

    private mutating func auth(_ mechanism: String, _ response: [UInt8]?) -> ServerAction {
        if configuration.authDisabled || configuration.authMechanisms.isEmpty {
            return fail(ServerReplies.notImplemented)
        }
        if phase == .awaitingHello { return fail(helloFirst) }
        if authenticated { return fail(ServerReplies.alreadyAuthenticated) }
        if phase != .ready { return fail(ServerReplies.transactionInProgress) }
        if !facts.isSecure && !configuration.allowInsecureAuth { return fail(ServerReplies.encryptionRequired) }
        guard configuration.authMechanisms.contains(mechanism.uppercased()) else {
            return fail(ServerReplies.unknownMechanism)
        }
        wait(for: .auth)
        return .authenticate(mechanism: mechanism.uppercased(), initialResponse: response)
    }

    private mutating func xclient(_ attributes: [XClientAttribute]) -> ServerAction {
        guard facts.xclientPermitted else { return fail(ServerReplies.xclientForbidden) }
        if phase != .ready && phase != .awaitingHello { return fail(ServerReplies.transactionInProgress) }
        wait(for: .xclient)
        return .xclient(attributes)
    }

    private mutating func xforward(_ attributes: [XForwardAttribute]) -> ServerAction {
        guard facts.xforwardPermitted else { return fail(ServerReplies.xclientForbidden) }
        switch phase {
        case .awaitingHello: return fail(helloFirst)
        case .ready: break
        default: return fail(ServerReplies.transactionInProgress)
        }
        wait(for: .xforward(attributes))
        return .xforward(attributes)
    }

    // MARK: - Outcomes

    /// The backend accepted MAIL: the transaction starts. Returns 250 2.1.0.
    public mutating func senderAccepted() -> Reply {
        guard case .mail(let from, let options) = pending else { return unexpectedOutcome() }
        resume(.transaction)
        sender = from
        mailOptions = options
        return ServerReplies.senderOK
    }

    /// The backend refused MAIL. Returns its error as the reply.
    public mutating func senderRejected(_ error: SMTPError) -> Reply {
        guard case .mail = pending else { return unexpectedOutcome() }
        resume(.ready)
        return counted(error.reply)
    }

    /// The backend accepted the pending RCPT. Returns 250 2.1.5.
    public mutating func recipientAccepted() -> Reply {
        guard case .rcpt(let address) = pending else { return unexpectedOutcome() }
        resume(.transaction)
        recipients.append(address)
        return ServerReplies.recipientOK
    }

    /// The backend refused the pending RCPT. Returns its error as the reply.
    public mutating func recipientRejected(_ error: SMTPError) -> Reply {
        guard case .rcpt = pending else { return unexpectedOutcome() }
        resume(.transaction)
        rejectedRecipientCount += 1
        return counted(error.reply)
    }

    /// A non-final BDAT chunk was read and handed to the backend. Returns 250 2.0.0.
    public mutating func chunkProcessed() -> Reply {
        guard case .chunk(let size, false) = pending else { return unexpectedOutcome() }
        resume(.receivingChunks)
        return ServerReplies.chunkReceived(size)
    }

    /// The message ended (end of DATA, the last BDAT chunk, or a failure while receiving it).
    /// Returns the replies to send: one in SMTP, one per accepted recipient in LMTP
    /// (RFC 2033 §4.2). The transaction is over either way.
    public mutating func messageProcessed(_ outcome: MessageOutcome) -> [Reply] {
        guard let last = messageEnding else { return [unexpectedOutcome()] }
        let replies = finalReplies(for: outcome, last: last)
        endMessage()
        return replies
    }

    /// The message ended and its replies were written already, one per recipient as the
    /// backend set them (RFC 2033 §4.2; the server's `StatusCollector` writes them): the
    /// transaction is over, and no reply is made again. Returns `false`, closing the session,
    /// when no message was being received.
    public mutating func messageReplied() -> Bool {
        guard messageEnding != nil else {
            _ = unexpectedOutcome()
            return false
        }
        endMessage()
        return true
    }

    /// Whether the message being received ends the data (DATA, or BDAT with LAST); `nil` when
    /// none is being received.
    private var messageEnding: Bool? {
        switch pending {
        case .data: return true
        case .chunk(_, let isLast): return isLast
        default: return nil
        }
    }

    private mutating func endMessage() {
        pending = .none
        clearTransaction()
        phase = .ready
    }

    /// TLS is in place after STARTTLS: everything learnt before is forgotten (RFC 3207 §4.2).
    public mutating func tlsEstablished() {
        guard case .tls = pending else { phase = .closed; return }
        pending = .none
        facts.tlsActive = true
        clearTransaction()
        helloDomain = nil
        extended = false
        phase = .awaitingHello
    }

    /// The SASL exchange succeeded. Returns 235 2.7.0.
    public mutating func authenticationSucceeded() -> Reply {
        guard case .auth = pending else { return unexpectedOutcome() }
        resume(.ready)
        authenticated = true
        return ServerReplies.authenticated
    }

    /// The SASL exchange failed with `error` (535 5.7.8, 454 4.7.0, 501 5.0.0, …).
    public mutating func authenticationFailed(_ error: SMTPError) -> Reply {
        guard case .auth = pending else { return unexpectedOutcome() }
        resume(.ready)
        return counted(error.reply)
    }

    /// The backend allowed XCLIENT: the session starts over as if newly connected from the
    /// asserted client, and the reply is the greeting (Postfix XCLIENT_README). `trusted` is
    /// whether the asserted address is in a secure network; `authenticated` whether the proxy
    /// asserted a LOGIN.
    public mutating func xclientAccepted(trusted: Bool, authenticated: Bool) -> Reply {
        guard case .xclient = pending else { return unexpectedOutcome() }
        pending = .none
        clearTransaction()
        helloDomain = nil
        extended = false
        self.authenticated = authenticated
        facts.trusted = trusted
        phase = .awaitingHello
        return greeting
    }

    /// The backend allowed XFORWARD: its attributes are kept for the next transaction. Returns
    /// 250 2.0.0.
    public mutating func xforwardAccepted() -> Reply {
        guard case .xforward(let attributes) = pending else { return unexpectedOutcome() }
        resume(.ready)
        forwarded += attributes
        return ServerReplies.ok
    }

    /// The backend refused XFORWARD. Returns 550 5.7.0.
    public mutating func xforwardRejected() -> Reply {
        guard case .xforward = pending else { return unexpectedOutcome() }
        resume(.ready)
        return counted(ServerReplies.xclientForbidden)
    }

    /// The backend refused XCLIENT. Returns 550 5.7.0.
    public mutating func xclientRejected() -> Reply {
        guard case .xclient = pending else { return unexpectedOutcome() }
        resume(phaseBeforeWaiting)
        return counted(ServerReplies.xclientForbidden)
    }

    // MARK: - Helpers

    private func finalReplies(for outcome: MessageOutcome, last: Bool) -> [Reply] {
        guard configuration.lmtp && last else {
            switch outcome {
            case .accepted:
                return [ServerReplies.queued]
            case .failed(let error):
                return [error.reply]
            case .perRecipient(let statuses):
                return [statuses.compactMap { $0 }.first?.reply ?? ServerReplies.queued]
            }
        }
        return recipients.enumerated().map { index, recipient in
            let status: SMTPError?
            switch outcome {
            case .accepted: status = nil
            case .failed(let error): status = error
            case .perRecipient(let statuses):
                status = index < statuses.count ? statuses[index] : SMTPError.localError
            }
            return Self.lmtpReply(recipient: recipient, status: status)
        }
    }

    /// The LMTP reply for one recipient: its error, or 250 2.0.0 naming it (RFC 2033 §4.2).
    public static func lmtpReply(recipient: Address, status: SMTPError?) -> Reply {
        status?.reply ?? ServerReplies.delivered(recipient)
    }

    /// A non-BDAT command arrived between BDAT chunks and ended the message transfer (the
    /// reference's `ErrDataReset`): the transaction is over without a reply of its own.
    public mutating func messageAborted() {
        switch pending {
        case .chunk, .data: break
        case .none where phase == .receivingChunks: break
        default: return
        }
        pending = .none
        clearTransaction()
        phase = .ready
    }

    private mutating func wait(for what: Pending) {
        phaseBeforeWaiting = phase
        pending = what
        phase = .waiting
    }

    private mutating func resume(_ next: Phase) {
        pending = .none
        phase = next
    }

    private mutating func clearTransaction() {
        forwarded = []
        sender = nil
        mailOptions = MailOptions()
        recipients = []
        rejectedRecipientCount = 0
        chunkedOctets = 0
    }

    private mutating func counted(_ reply: Reply) -> Reply {
        if reply.code >= 400 { errorCount += 1 }
        return reply
    }

    private mutating func fail(_ reply: Reply) -> ServerAction {
        .reply(counted(reply))
    }

    private mutating func errorLimitAction() -> ServerAction? {
        guard let limit = configuration.maximumErrors, errorCount >= limit else { return nil }
        phase = .closed
        return .close(ServerReplies.tooManyErrors)
    }

    private mutating func unexpectedOutcome() -> Reply {
        phase = .closed
        pending = .none
        return ServerReplies.internalState
    }
}
