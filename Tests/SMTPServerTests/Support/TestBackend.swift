import NIOCore
import SMTPCore
import SMTPServer
import Synchronization

/// One message as the test backend received it.
struct ReceivedMessage: Sendable, Equatable {
    var from: ReversePath
    var mailOptions: MailOptions
    var recipients: [Address]
    var rcptOptions: [RcptOptions]
    var body: String
}

/// What a test backend has seen.
final class Recorder: Sendable {
    struct Events {
        var messages: [ReceivedMessage] = []
        var dataErrors: [SMTPError] = []
        var logins: [String] = []
        var resets = 0
        var logouts = 0
    }
    let events = Mutex(Events())

    var messages: [ReceivedMessage] { events.withLock { $0.messages } }
    var dataErrors: [SMTPError] { events.withLock { $0.dataErrors } }
    var logins: [String] { events.withLock { $0.logins } }
}

/// Scripted behaviour of the test backend.
struct Behaviour: Sendable {
    var rejectSender: @Sendable (ReversePath) -> SMTPError? = { _ in nil }
    var rejectRecipient: @Sendable (Address) -> SMTPError? = { _ in nil }
    /// Thrown by `data` before reading anything.
    var failDataEarly: SMTPError?
    /// LMTP: the status for a recipient (`.none`: leave unset), set before reading the body
    /// when `statusesBeforeBody`, else after.
    var lmtpStatuses: @Sendable (Address) -> SMTPError?? = { _ in .none }
    var statusesBeforeBody = false
    var anonymousError: SMTPError?
    var users: [String: String] = ["user": "secret"]
    var lmtp = false
    var bodyLimit = 64 << 20
}

struct TestBackend: Backend {
    let recorder: Recorder
    let behaviour: Behaviour

    func login(state: ConnectionState, username: String, password: String, sessionID: String) async throws -> any Session {
        guard behaviour.users[username] == password else { throw SMTPError.authenticationFailed }
        recorder.events.withLock { $0.logins.append(username) }
        return makeSession()
    }

    func anonymousLogin(state: ConnectionState, sessionID: String) async throws -> any Session {
        if let error = behaviour.anonymousError { throw error }
        return makeSession()
    }

    private func makeSession() -> any Session {
        behaviour.lmtp ? TestLMTPSession(recorder: recorder, behaviour: behaviour) : TestSession(recorder: recorder, behaviour: behaviour)
    }
}

class TestSession: Session {
    let recorder: Recorder
    let behaviour: Behaviour
    var message: ReceivedMessage?

    init(recorder: Recorder, behaviour: Behaviour) {
        self.recorder = recorder
        self.behaviour = behaviour
    }

    func reset() async {
        message = nil
        recorder.events.withLock { $0.resets += 1 }
    }

    func logout() async {
        recorder.events.withLock { $0.logouts += 1 }
    }

    func mail(from: ReversePath, options: MailOptions) async throws {
        if let error = behaviour.rejectSender(from) { throw error }
        message = ReceivedMessage(from: from, mailOptions: options, recipients: [], rcptOptions: [], body: "")
    }

    func rcpt(to: Address, options: RcptOptions) async throws {
        if let error = behaviour.rejectRecipient(to) { throw error }
        message?.recipients.append(to)
        message?.rcptOptions.append(options)
    }

    func data(_ body: MessageBody) async throws {
        try await receive(body)
    }

    func receive(_ body: MessageBody) async throws {
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

final class TestLMTPSession: TestSession, LMTPSession {
    func lmtpData(_ body: MessageBody, status: StatusCollector) async throws {
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
