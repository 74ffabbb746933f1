import Logging
import NIOCore
import SASL
import SMTPCore
import SMTPTransport

/// Why a connection's task stops early.
enum ConnectionEnd: Error {
    /// The client closed the connection (or it broke).
    case lost
    /// The client was silent for longer than the read timeout.
    case readTimeout
    /// A message took longer than the DATA timeout.
    case dataTimeout
    /// The server is shutting down and no transaction is in flight.
    case shutdown
}

/// One client connection, driven by one task: it reads the shared input buffer, feeds lines to
/// the ``ServerStateMachine``, carries out the actions with the backend, and writes replies —
/// queued while pipelined commands are already buffered, flushed before waiting for input
/// (RFC 2920 §3.2).
final class Connection {
    let context: ServerContext
    var machine: ServerStateMachine
    var state: ConnectionState
    var logger: Logger

    private let io: ConnectionIO
    private let channel: any Channel
    private var input = ByteBuffer()
    private var framer: LineFramer
    private var output = ByteBuffer()
    private let parser: CommandParser
    private var session: (any Session)? {
        didSet { lmtpSession = session as? any LMTPSession }
    }
    /// `session` as an ``LMTPSession``, if it is one: cast once per session, not per message.
    private var lmtpSession: (any LMTPSession)?

    // The message being received.
    private enum BodyMode {
        case idle
        case data(DataDecoder)
        case chunk(ChunkReader, last: Bool)
        case ended
    }
    private var bodyMode = BodyMode.idle
    private var bodyChunks: [ByteBuffer] = []
    private var bodyChunkIndex = 0
    /// Octets of the body handed to the backend so far.
    private var bodyOctets = 0
    /// The error the body ends with: a rule broken (SMTPError) or an abort (dataReset).
    private var bodyError: SMTPError?
    private var bodyErrorDelivered = false
    /// The state machine already ended the transaction (a refused chunk, or a command between
    /// chunks); no outcome is reported for the message.
    private var bodyEndedByProtocol = false
    /// A command that arrived between BDAT chunks and ended the message; run after it.
    private var pendingAction: ServerAction?
    private var collector: StatusCollector?
    // NIO's deadlines (fixed layout), not ContinuousClock's resilient Instant, which an async
    // frame can hold only in memory allocated and typed at run time.
    private var dataDeadline: NIODeadline?
    /// Why the connection ended while a body was being read; the backend saw an `SMTPError`
    /// instead, and the connection's task ends with this once the backend has returned.
    private var connectionEnd: ConnectionEnd?
    /// The handle others see; its state is kept current.
    private let handle: Conn
    /// The server is shutting down: close as soon as no transaction is in flight.
    private var draining: Bool

    init(context: ServerContext, state: ConnectionState, facts: ConnectionFacts,
         io: ConnectionIO, handle: Conn, draining: Bool) {
        self.handle = handle
        self.channel = handle.channel
        self.draining = draining
        self.context = context
        var session = context.configuration.session
        session.authMechanisms = context.mechanisms.names
        self.machine = ServerStateMachine(configuration: session, facts: facts)
        self.state = state
        self.io = io
        self.framer = LineFramer(maximumLineLength: context.configuration.maximumLineLength)
        self.parser = CommandParser(strict: context.configuration.session.strict)
        var logger = context.logger
        logger[metadataKey: "session"] = "\(state.sessionID)"
        if let remote = state.remoteAddress { logger[metadataKey: "remote"] = "\(remote)" }
        self.logger = logger
    }

    // MARK: - Command loop

    /// Serves the connection until QUIT, a fatal error or the client leaving.
    func run() async {
        logger.debug("connection opened")
        do {
            if draining { throw ConnectionEnd.shutdown }
            queue(machine.greeting)
            while !machine.isClosed {
                if draining && isIdle { throw ConnectionEnd.shutdown }
                guard let framed = try await nextLine() else { break }
                try await perform(process(framed))
            }
            try await flush()
        } catch ConnectionEnd.shutdown {
            await closeWith(ServerReplies.shuttingDown(hostname: context.configuration.session.hostname))
        } catch ConnectionEnd.readTimeout {
            await closeWith(ServerReplies.timeoutExceeded(hostname: context.configuration.session.hostname))
        } catch ConnectionEnd.dataTimeout {
            await closeWith(ServerReplies.messageTransferTooSlow(hostname: context.configuration.session.hostname))
        } catch {
            logger.debug("connection ended: \(error)")
        }
        await session?.logout()
        session = nil
        logger.debug("connection closed")
    }

    /// No transaction in flight: safe to close when draining.
    private var isIdle: Bool {
        machine.phase == .ready || machine.phase == .awaitingHello
    }

    private func closeWith(_ reply: Reply) async {
        queue(reply)
        try? await flush()
    }

    /// Parses a framed line and hands it to the state machine.
    private func process(_ framed: FramedLine) -> ServerAction {
        let action: ServerAction
        switch framed {
        case .tooLong:
            action = machine.lineTooLong()
        case .line(let line):
            if let trace = context.configuration.trace { trace("C: " + Self.redacted(line)) }
            do {
                action = machine.commandReceived(try parser.parse(line))
            } catch {
                action = machine.parseFailed(error)
            }
        }
        if let domain = machine.helloDomain, domain != state.hostname {
            state.hostname = domain
            handle.update(state)
        }
        return action
    }

    private func perform(_ action: ServerAction) async throws {
        switch action {
        case .reply(let reply), .close(let reply):
            queue(reply)
        case .refuseRecipient(let to, let options, let reply):
            await session?.recipientRefused(to, options: options, error: reply.error)
            queue(reply)
        case .resetTransaction(let reply):
            await session?.reset()
            queue(reply)
        case .startTransaction(let from, let options):
            do {
                let session = try await currentSession()
                try await session.mail(from: from, options: options)
                queue(machine.senderAccepted())
            } catch {
                queue(machine.senderRejected(Self.smtpError(error)))
            }
        case .addRecipient(let to, let options):
            do {
                let session = try await currentSession()
                try await session.rcpt(to: to, options: options)
                queue(machine.recipientAccepted())
            } catch {
                queue(machine.recipientRejected(Self.smtpError(error)))
            }
        case .receiveData(let reply):
            queue(reply)
            let configuration = context.configuration.session
            try await receiveMessage(.data(DataDecoder(maximumBytes: configuration.maximumMessageBytes,
                                                       rejectBareLineEndings: configuration.rejectBareLineEndings)))
        case .receiveChunk(let size, let last):
            try await receiveMessage(.chunk(ChunkReader(size: size), last: last))
        case .discardChunk(let size, let replies, let abort):
            try await discard(size)
            if abort { await session?.reset() }
            replies.forEach(queue)
        case .startTLS(let reply):
            try await startTLS(reply)
        case .authenticate(let mechanism, let response):
            try await authenticate(mechanism, response)
        case .xclient(let attributes):
            await xclient(attributes)
        }
    }

    private func currentSession() async throws -> any Session {
        if let session { return session }
        let created = try await context.backend.anonymousLogin(state: state, sessionID: state.sessionID)
        session = created
        return created
    }

    /// Maps whatever a backend threw to the reply the client gets: its own `SMTPError`, or a
    /// temporary local error (RFC 5321 §4.2.3) so that mail is retried, never bounced.
    static func smtpError(_ error: any Error) -> SMTPError {
        if let error = error as? SMTPError { return error }
        return SMTPError.localError
    }

    // MARK: - Messages

    private func receiveMessage(_ mode: BodyMode) async throws {
        bodyMode = mode
        bodyChunks.removeAll(keepingCapacity: true)
        bodyChunkIndex = 0
        bodyError = nil
        bodyErrorDelivered = false
        bodyEndedByProtocol = false
        bodyOctets = 0
        pendingAction = nil
        let sender = machine.sender
        let recipientCount = machine.recipients.count
        if let timeout = context.configuration.dataTimeout { dataDeadline = .now() + TimeAmount(timeout) }
        connectionEnd = nil
        defer {
            bodyMode = .idle
            collector = nil
            dataDeadline = nil
        }
        guard let session else {
            // Cannot happen: MAIL created the session. Keep the stream in sync regardless.
            try await drainBody()
            if !bodyEndedByProtocol { machine.messageProcessed(.failed(SMTPError.localError)).forEach(queue) }
            return
        }
        let body = MessageBody(connection: self)
        if context.configuration.session.lmtp, let lmtpSession {
            try await receiveLMTPMessage(lmtpSession, body, sender: sender)
        } else {
            var backendError: (any Error)?
            do {
                try await session.data(body)
            } catch {
                backendError = error
            }
            try await drainBody()
            if !bodyEndedByProtocol {
                let outcome: MessageOutcome
                if let bodyError {
                    outcome = .failed(bodyError)
                } else if let backendError {
                    outcome = .failed(Self.smtpError(backendError))
                } else {
                    outcome = .accepted
                }
                let replies = machine.messageProcessed(outcome)
                replies.forEach(queue)
                logMessage(sender: sender, recipients: recipientCount, codes: replies.map(\.code))
            }
        }
        await session.reset()
        if let pendingAction {
            self.pendingAction = nil
            try await perform(pendingAction)
        }
    }

    /// LMTP with per-recipient statuses: the collector writes each reply as soon as the backend
    /// sets it (in RCPT order, after the end of the data).
    private func receiveLMTPMessage(_ session: any LMTPSession, _ body: MessageBody, sender: ReversePath?) async throws {
        let collector = StatusCollector(recipients: machine.recipients, channel: channel)
        self.collector = collector
        var backendError: (any Error)?
        do {
            try await session.lmtpData(body, status: collector)
        } catch {
            backendError = error
        }
        do {
            try await drainBody()
        } catch {
            collector.cancel()
            throw error
        }
        if bodyEndedByProtocol {
            collector.cancel()
        } else {
            let statuses = collector.finish(outcome: backendError.map(Self.smtpError))
            // The collector wrote the replies; this only moves the state machine on.
            let moved = machine.messageReplied()
            assert(moved, "the state machine was receiving this message")
            logMessage(sender: sender, recipients: statuses.count, codes: statuses.map { $0?.code ?? 250 })
        }
    }

    /// One line per message for operators: sender, recipients, size and the replies' codes.
    private func logMessage(sender: ReversePath?, recipients: Int, codes: [Int]) {
        logger.info("message received", metadata: [
            "from": "\(sender.map { "<\($0)>" } ?? "<>")",
            "recipients": "\(recipients)",
            "octets": "\(bodyOctets)",
            "replies": "\(codes.map(String.init).joined(separator: ","))",
        ])
    }

    /// The next chunk of the message body for ``MessageBody``.
    nonisolated(nonsending) func nextBodyChunk() async throws -> ByteBuffer? {
        while true {
            if bodyChunkIndex < bodyChunks.count {
                defer { bodyChunkIndex += 1 }
                bodyOctets += bodyChunks[bodyChunkIndex].readableBytes
                return bodyChunks[bodyChunkIndex]
            }
            bodyChunks.removeAll(keepingCapacity: true)
            bodyChunkIndex = 0
            switch bodyMode {
            case .idle, .ended:
                if let bodyError, !bodyErrorDelivered {
                    bodyErrorDelivered = true
                    throw bodyError
                }
                return nil
            case .data(var decoder):
                let end = decoder.decode(&input) { bodyChunks.append($0) }
                bodyMode = .data(decoder)
                if let end {
                    bodyMode = .ended
                    if case .failed(let error) = end { bodyError = error }
                    try await bodyEndReached()
                } else if bodyChunks.isEmpty {
                    try await readMoreBody()
                }
            case .chunk(var reader, let last):
                if let slice = reader.next(&input) {
                    bodyMode = .chunk(reader, last: last)
                    bodyOctets += slice.readableBytes
                    return slice
                }
                guard reader.isComplete else {
                    try await readMoreBody()
                    continue
                }
                if last {
                    bodyMode = .ended
                    try await bodyEndReached()
                    continue
                }
                try await nextChunkCommand()
            }
        }
    }

    /// Between BDAT chunks: acknowledge the chunk and read the next command. Another BDAT
    /// continues the message; a command the state machine answers without ending the
    /// transaction (NOOP, or an error such as RCPT between chunks) is answered and the transfer
    /// goes on; one that ends it (RSET, EHLO, QUIT, too many errors) ends the body with a data
    /// reset (the reference's `ErrDataReset`) and is carried out after the backend has returned.
    nonisolated(nonsending) private func nextChunkCommand() async throws {
        queue(machine.chunkProcessed())
        while true {
            let next: FramedLine?
            do {
                next = try await nextLine()
            } catch let end as ConnectionEnd {
                throw endBody(end)
            }
            guard let framed = next else { throw endBody(.lost) }
            let action = process(framed)
            switch action {
            case .receiveChunk(let size, let last):
                bodyMode = .chunk(ChunkReader(size: size), last: last)
                return
            case .discardChunk(let size, let replies, _):
                try await discard(size)
                replies.forEach(queue)
                bodyMode = .ended
                bodyEndedByProtocol = true
                bodyError = replies.first.map { $0.error } ?? SMTPError.dataReset
                return
            case .reply(let reply) where machine.phase == .receivingChunks:
                queue(reply)
            default:
                machine.messageAborted()
                pendingAction = action
                bodyMode = .ended
                bodyEndedByProtocol = true
                bodyError = SMTPError.dataReset
                return
            }
        }
    }

    nonisolated(nonsending) private func bodyEndReached() async throws {
        if let trace = context.configuration.trace {
            trace("C: <message data, \(bodyError.map { "failed: \($0.message)" } ?? "complete")>")
        }
        try await flush()
        collector?.bodyEnded(failure: bodyError)
    }

    /// Reads more of the body. When the connection ends (closed, timed out) the backend's
    /// reader fails with an `SMTPError` — `dataReset` for a disconnection, as in the reference —
    /// and the real reason is kept for the connection's task.
    nonisolated(nonsending) private func readMoreBody() async throws {
        do {
            if let dataDeadline, NIODeadline.now() > dataDeadline { throw ConnectionEnd.dataTimeout }
            if try await readMore() { return }
            throw ConnectionEnd.lost
        } catch let end as ConnectionEnd {
            throw endBody(end)
        }
    }

    /// Ends the body because the connection ends; returns the error the backend's reader throws.
    private func endBody(_ end: ConnectionEnd) -> SMTPError {
        connectionEnd = end
        bodyMode = .ended
        let error: SMTPError
        switch end {
        case .lost, .shutdown: error = SMTPError.dataReset
        case .readTimeout, .dataTimeout:
            error = SMTPError(code: 421, enhancedCode: EnhancedCode(4, 4, 2), message: "Timeout while receiving the message")
        }
        bodyError = error
        bodyErrorDelivered = true
        return error
    }

    /// Reads whatever the backend left of the body, so the next command is read in sync; ends
    /// the connection's task if the connection ended meanwhile.
    nonisolated(nonsending) private func drainBody() async throws {
        do {
            while try await nextBodyChunk() != nil {}
        } catch {
            // The body's own failure (too large, reset) was recorded in `bodyError`.
        }
        if let connectionEnd {
            self.connectionEnd = nil
            throw connectionEnd
        }
    }

    nonisolated(nonsending) private func discard(_ size: Int) async throws {
        var reader = ChunkReader(size: size)
        while !reader.isComplete {
            if reader.next(&input) == nil {
                guard try await readMore() else { throw ConnectionEnd.lost }
            }
        }
    }

    // MARK: - STARTTLS and AUTH

    nonisolated(nonsending) private func startTLS(_ reply: Reply) async throws {
        try await flush()
        // Plaintext pipelined behind STARTTLS is discarded, never executed (CVE-2011-0411).
        let injected = input.readableBytes + framer.bufferedByteCount
        input.clear()
        framer = LineFramer(maximumLineLength: context.configuration.maximumLineLength)
        var wire = ByteBuffer()
        reply.write(to: &wire)
        try io.sendOutboundEvent(StartTLSReply(reply: wire))
        var dropped = injected
        waiting: while true {
            guard let event = try await io.nextUntilClosed() else { throw ConnectionEnd.lost }
            switch event {
            case .bytes(let bytes):
                dropped += bytes.readableBytes
            case .readTimeout:
                throw ConnectionEnd.readTimeout
            case .shutdown:
                draining = true
            case .tlsEstablished(let tls):
                state.tls = tls
                break waiting
            }
        }
        if dropped > 0 { logger.warning("discarded \(dropped) octets sent in plaintext after STARTTLS") }
        machine.tlsEstablished()
        state.hostname = nil
        handle.update(state)
        logger.debug("TLS established: \(state.tls?.protocolVersion ?? "unknown version")")
    }

    private func authenticate(_ mechanism: String, _ initialResponse: [UInt8]?) async throws {
        let authentication = AuthenticationContext(state: state, backend: context.backend)
        guard var server = context.mechanisms.make(mechanism, authentication) else {
            queue(machine.authenticationFailed(ServerReplies.unknownMechanism.error))
            return
        }
        var response = initialResponse
        while true {
            let step: SASLServerStep
            do {
                step = try await server.next(response)
            } catch {
                queue(machine.authenticationFailed(Self.authenticationError(error)))
                return
            }
            switch step {
            case .success:
                guard let authenticated = authentication.session else {
                    queue(machine.authenticationFailed(SMTPError.temporaryAuthenticationFailure))
                    return
                }
                await session?.logout()
                session = authenticated
                queue(machine.authenticationSucceeded())
                return
            case .challenge(let challenge):
                queue(Reply(code: 334, enhancedCode: .omitted, text: Base64.encode(challenge)))
                guard let framed = try await nextLine() else { throw ConnectionEnd.lost }
                guard case .line(let line) = framed else {
                    queue(machine.authenticationFailed(SMTPError.lineTooLong))
                    return
                }
                if let trace = context.configuration.trace { trace("C: ***") }
                let text = String(buffer: line)
                if text == "*" {
                    queue(machine.authenticationFailed(ServerReplies.authenticationAborted.error))
                    return
                }
                guard let decoded = Base64.decode(text) else {
                    queue(machine.authenticationFailed(SMTPError(code: 501, enhancedCode: EnhancedCode(5, 5, 2),
                                                                 message: "Invalid base64 data")))
                    return
                }
                response = decoded
            }
        }
    }

    /// RFC 4954 §6: malformed responses 501, refused credentials 535, anything else 454.
    static func authenticationError(_ error: any Error) -> SMTPError {
        switch error {
        case let error as SMTPError: return error
        case SASLError.malformedResponse(let why):
            return SMTPError(code: 501, enhancedCode: EnhancedCode(5, 5, 2), message: "Invalid authentication data: \(why)")
        case SASLError.authenticationFailed: return SMTPError.authenticationFailed
        default: return SMTPError.temporaryAuthenticationFailure
        }
    }

    // MARK: - XCLIENT

    /// Applies XCLIENT attributes (Postfix XCLIENT_README) if the session (``ProxySession``) or
    /// else the backend (``ProxyBackend``) allows it; the real state is kept as `original`.
    private func xclient(_ attributes: [XClientAttribute]) async {
        let asserted = Self.applying(attributes, to: state)
        let allowed: Bool
        if let session {
            if let proxySession = session as? any ProxySession,
               proxySession.allowProxy(asserted: asserted, sessionID: state.sessionID) {
                await proxySession.logout()
                self.session = nil
                allowed = true
            } else {
                allowed = false
            }
        } else if let proxyBackend = context.backend as? any ProxyBackend {
            allowed = proxyBackend.allowProxy(actual: state, asserted: asserted, sessionID: state.sessionID)
        } else {
            allowed = false
        }
        guard allowed else {
            queue(machine.xclientRejected())
            return
        }
        state = asserted
        handle.update(state)
        if let remote = asserted.remoteAddress { logger[metadataKey: "client"] = "\(remote)" }
        let trusted = asserted.remoteAddress.map { address in
            context.configuration.secureNetworks.contains { $0.contains(address) }
        } ?? false
        queue(machine.xclientAccepted(trusted: trusted, authenticated: asserted.proxied["LOGIN"] != nil))
    }

    /// The state a proxy asserts: ADDR/PORT replace the remote address, DESTADDR/DESTPORT the
    /// local one, HELO the greeting name; NAME, LOGIN and PROTO are kept in `proxied`.
    /// `[UNAVAILABLE]` and `[TEMPUNAVAIL]` clear a fact.
    static func applying(_ attributes: [XClientAttribute], to state: ConnectionState) -> ConnectionState {
        var asserted = state
        asserted.original = state.original ?? Box(state)
        var values: [XClientAttribute.Name: String] = [:]
        for attribute in attributes {
            switch attribute.value {
            case .value(let value): values[attribute.name] = value
            case .unavailable, .temporarilyUnavailable: values[attribute.name] = ""
            }
        }
        func address(_ ip: String?, _ port: String?, current: SocketAddress?) -> SocketAddress? {
            guard let ip else {
                guard let port, let current, let number = Int(port), let host = current.ipAddress else { return current }
                return try? SocketAddress(ipAddress: host, port: number)
            }
            guard !ip.isEmpty else { return nil }
            let host = ip.uppercased().hasPrefix("IPV6:") ? String(ip.dropFirst(5)) : ip
            return try? SocketAddress(ipAddress: host, port: port.flatMap { Int($0) } ?? current?.port ?? 0)
        }
        if values[.address] != nil || values[.port] != nil {
            asserted.remoteAddress = address(values[.address], values[.port], current: state.remoteAddress)
        }
        if values[.destinationAddress] != nil || values[.destinationPort] != nil {
            asserted.localAddress = address(values[.destinationAddress], values[.destinationPort], current: state.localAddress)
        }
        if let helo = values[.helo] { asserted.hostname = helo.isEmpty ? nil : helo }
        for name in [XClientAttribute.Name.name, .login, .proto] {
            guard let value = values[name] else { continue }
            asserted.proxied[name.rawValue] = value.isEmpty ? nil : value
        }
        return asserted
    }

    // MARK: - I/O

    private func queue(_ reply: Reply) {
        reply.write(to: &output)
        if let trace = context.configuration.trace {
            for line in reply.description.split(separator: "\r\n") { trace("S: " + line) }
        }
    }

    /// A command line for the trace, with AUTH's initial response hidden.
    static func redacted(_ line: ByteBuffer) -> String {
        let text = String(decoding: line.readableBytesView, as: UTF8.self)
        let words = text.split(separator: " ", maxSplits: 2)
        guard words.count == 3, words[0].uppercased() == "AUTH" else { return text }
        return "\(words[0]) \(words[1]) ***"
    }

    /// Writes the queued replies.
    nonisolated(nonsending) private func flush() async throws {
        guard output.readableBytes > 0 else { return }
        try await io.write(NIOAny(output))
        // Once written the channel holds no reference to the storage, which is then used again
        // for the next replies; one the channel still holds (a write pending) is not touched:
        // clearing it makes new storage.
        output.clear()
    }

    /// The next command line; flushes and reads only when none is buffered.
    ///
    /// The read timeout is an idle timeout, which a client sending a byte now and then never
    /// trips; so a command line must also be complete within the read timeout of its first
    /// byte (RFC 5321 §4.5.3.2.7 gives the server a five-minute command timeout), or the
    /// connection gets 421 4.4.2 and is closed.
    nonisolated(nonsending) private func nextLine() async throws -> FramedLine? {
        var lineStarted: NIODeadline?
        while true {
            if let framed = framer.next(&input) { return framed }
            if framer.isInsideLine, let limit = context.configuration.readTimeout {
                let now = NIODeadline.now()
                if let lineStarted {
                    if now - lineStarted > limit { throw ConnectionEnd.readTimeout }
                } else {
                    lineStarted = now
                }
            }
            guard try await readMore() else { return nil }
        }
    }

    /// Flushes the queued replies, then waits for more input. Returns `false` at end of input.
    nonisolated(nonsending) private func readMore() async throws -> Bool {
        try await flush()
        while true {
            guard let event = try await io.nextUntilClosed() else { return false }
            switch event {
            case .bytes(var bytes):
                if input.readableBytes == 0 {
                    input = bytes
                } else {
                    input.writeBuffer(&bytes)
                }
                return true
            case .readTimeout:
                throw ConnectionEnd.readTimeout
            case .shutdown:
                draining = true
                if case .idle = bodyMode, isIdle { throw ConnectionEnd.shutdown }
            case .tlsEstablished(let tls):
                // TLS-on-connect: the handshake finished before the first command.
                state.tls = tls
                handle.update(state)
            }
        }
    }
}
