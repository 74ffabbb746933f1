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
/// (RFC 2920 §3.2). A message's body is the ``MessageTransfer``'s to decide
/// (`Connection+Message.swift`); the connection only carries out its actions.
final class Connection {
    let context: ServerContext
    var machine: ServerStateMachine
    var state: ConnectionState
    var logger: Logger

    let io: ConnectionIO
    var input = ByteBuffer()
    private var framer: LineFramer
    private var output = ByteBuffer()
    private let parser: CommandParser
    var session: (any Session)? {
        didSet { lmtpSession = session as? any LMTPSession }
    }
    /// `session` as an ``LMTPSession``, if it is one: cast once per session, not per message.
    private(set) var lmtpSession: (any LMTPSession)?

    /// The message being received, if any.
    var transfer = MessageTransfer()
    var collector: StatusCollector?
    // NIO's deadlines (fixed layout), not ContinuousClock's resilient Instant, which an async
    // frame can hold only in memory allocated and typed at run time.
    var dataDeadline: NIODeadline?
    /// Why the connection ended while a body was being read; the backend saw an `SMTPError`
    /// instead, and the connection's task ends with this once the backend has returned.
    var connectionEnd: ConnectionEnd?
    /// The handle others see; its state is kept current.
    let handle: Conn
    /// The server is shutting down: close as soon as no transaction is in flight.
    private var draining: Bool

    init(context: ServerContext, state: ConnectionState, facts: ConnectionFacts,
         io: ConnectionIO, handle: Conn, draining: Bool) {
        self.handle = handle
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
        logger[metadataKey: "smtp.session"] = "\(state.sessionID)"
        if let remote = state.remoteAddress { logger[metadataKey: "smtp.remote"] = "\(remote)" }
        self.logger = logger
    }

    // MARK: - Command loop

    /// Serves the connection until QUIT, a fatal error or the client leaving.
    func run() async {
        logger.debug("connection opened")
        context.metrics.connections.increment()
        context.metrics.activeConnections.increment()
        defer { context.metrics.activeConnections.decrement() }
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
    func process(_ framed: FramedLine) -> ServerAction {
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

    func perform(_ action: ServerAction) async throws {
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
                if !machine.forwarded.isEmpty { await session.xforward(ForwardedClient(attributes: machine.forwarded)) }
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
            try await receiveMessage(MessageTransfer(data: DataDecoder(maximumBytes: configuration.maximumMessageBytes,
                                                                       rejectBareLineEndings: configuration.rejectBareLineEndings)))
        case .receiveChunk(let size, let last):
            try await receiveMessage(MessageTransfer(chunk: size, last: last))
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
        case .xforward(let attributes):
            xforward(attributes)
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

    // MARK: - I/O

    func queue(_ reply: Reply) {
        reply.write(to: &output)
        context.configuration.replyObserver?(reply, state)
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
    nonisolated(nonsending) func flush() async throws {
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
    nonisolated(nonsending) func nextLine() async throws -> FramedLine? {
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
    nonisolated(nonsending) func readMore() async throws -> Bool {
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
                if transfer.isIdle, isIdle { throw ConnectionEnd.shutdown }
            case .tlsEstablished(let tls):
                // TLS-on-connect: the handshake finished before the first command.
                state.tls = tls
                handle.update(state)
            }
        }
    }
}
