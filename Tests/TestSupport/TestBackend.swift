import NIOCore
import SMTPCore
import SMTPServer
import Synchronization

/// One message as the test backend received it.
public struct ReceivedMessage: Sendable, Equatable {
    public var from: ReversePath
    public var mailOptions: MailOptions
    public var recipients: [Address]
    public var rcptOptions: [RcptOptions]
    public var body: String
}

/// What a test backend has seen.
public final class Recorder: Sendable {
    public struct Events: Sendable {
        public var messages: [ReceivedMessage] = []
        public var dataErrors: [SMTPError] = []
        public var logins: [String] = []
        /// What XFORWARD said before each transaction that had it.
        public var forwarded: [ForwardedClient] = []
        public var resets = 0
        public var logouts = 0
    }
    public let events = Mutex(Events())

    public init() {}

    public var messages: [ReceivedMessage] { events.withLock { $0.messages } }
    public var dataErrors: [SMTPError] { events.withLock { $0.dataErrors } }
    public var logins: [String] { events.withLock { $0.logins } }
    public var forwarded: [ForwardedClient] { events.withLock { $0.forwarded } }
}

/// Scripted behaviour of the test backend.
public struct Behaviour: Sendable {
    public var rejectSender: @Sendable (ReversePath) -> SMTPError? = { _ in nil }
    public var rejectRecipient: @Sendable (Address) -> SMTPError? = { _ in nil }
    /// Thrown by `data` before reading anything.
    public var failDataEarly: SMTPError?
    /// LMTP: the status for a recipient (`.none`: leave unset), set before reading the body
    /// when `statusesBeforeBody`, else after.
    public var lmtpStatuses: @Sendable (Address) -> SMTPError?? = { _ in .none }
    public var statusesBeforeBody = false
    public var anonymousError: SMTPError?
    public var users: [String: String] = ["user": "secret"]
    public var lmtp = false
    public var bodyLimit = 64 << 20

    /// The default behaviour: accept everything.
    public init() {}

    /// LMTP with per-mailbox outcomes: `full@…` gets 452 4.2.2, `gone@…` 550 5.1.1, every other
    /// recipient the message's own outcome.
    public static let lmtpMailboxStates: Behaviour = {
        var behaviour = Behaviour()
        behaviour.lmtp = true
        behaviour.lmtpStatuses = { recipient in
            switch recipient.localPart {
            case "full": return .some(SMTPError(code: 452, enhancedCode: EnhancedCode(4, 2, 2), message: "Mailbox full"))
            case "gone": return .some(SMTPError(code: 550, enhancedCode: EnhancedCode(5, 1, 1), message: "No such user"))
            default: return .none
            }
        }
        return behaviour
    }()
}

public struct TestBackend: Backend {
    public let recorder: Recorder
    public let behaviour: Behaviour

    public init(recorder: Recorder, behaviour: Behaviour) {
        self.recorder = recorder
        self.behaviour = behaviour
    }

    public func login(state: ConnectionState, username: String, password: String, sessionID: String) async throws -> any Session {
        guard behaviour.users[username] == password else { throw SMTPError.authenticationFailed }
        recorder.events.withLock { $0.logins.append(username) }
        return makeSession()
    }

    public func anonymousLogin(state: ConnectionState, sessionID: String) async throws -> any Session {
        if let error = behaviour.anonymousError { throw error }
        return makeSession()
    }

    private func makeSession() -> any Session {
        behaviour.lmtp ? TestLMTPSession(recorder: recorder, behaviour: behaviour) : TestSession(recorder: recorder, behaviour: behaviour)
    }
}

public class TestSession: Session {
    public let recorder: Recorder
    public let behaviour: Behaviour
    public var message: ReceivedMessage?

    public init(recorder: Recorder, behaviour: Behaviour) {
        self.recorder = recorder
        self.behaviour = behaviour
    }

    public func reset() async {
        message = nil
        recorder.events.withLock { $0.resets += 1 }
    }

    public func logout() async {
        recorder.events.withLock { $0.logouts += 1 }
    }

    public func xforward(_ client: ForwardedClient) async {
        recorder.events.withLock { $0.forwarded.append(client) }
    }

    public func mail(from: ReversePath, options: MailOptions) async throws {
        if let error = behaviour.rejectSender(from) { throw error }
        message = ReceivedMessage(from: from, mailOptions: options, recipients: [], rcptOptions: [], body: "")
    }

    public func rcpt(to: Address, options: RcptOptions) async throws {
        if let error = behaviour.rejectRecipient(to) { throw error }
        message?.recipients.append(to)
        message?.rcptOptions.append(options)
    }

    public func data(_ body: MessageBody) async throws {
        try await receive(body)
    }

    public func receive(_ body: MessageBody) async throws {
        if let error = behaviour.failDataEarly { throw error }
        do {
            let bytes = try await body.collect(upTo: behaviour.bodyLimit)
            message?.body = String(buffer: bytes)
        } catch let error as SMTPError {
            recorder.events.withLock { $0.dataErrors.append(error) }
            throw error
        }
        if let message { recorder.events.withLock { $0.messages.append(message) } }
    }
}

public final class TestLMTPSession: TestSession, LMTPSession {
    public func lmtpData(_ body: MessageBody, status: StatusCollector) async throws {
        let recipients = message?.recipients ?? []
        func setStatuses() {
            for recipient in recipients {
                if case .some(let error) = behaviour.lmtpStatuses(recipient) { status.setStatus(for: recipient, error) }
            }
        }
        if behaviour.statusesBeforeBody { setStatuses() }
        try await receive(body)
        if !behaviour.statusesBeforeBody { setStatuses() }
    }
}
