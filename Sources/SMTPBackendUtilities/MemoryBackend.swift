import NIOCore
import SMTPCore
import SMTPServer
import Synchronization

/// A backend that keeps the messages it receives in memory, for tests of code that sends
/// mail: bounded in the number of messages (the oldest are dropped) and in the size of each
/// (larger ones are refused with 552 5.3.4, RFC 5321 §4.5.3.1.10).
public final class MemoryBackend: Backend {
    /// A received message.
    public struct Message: Sendable {
        /// Its envelope.
        public var envelope: Envelope
        /// The message as received (CRLF line ends, dot-unstuffed).
        public var body: ByteBuffer
        /// The body as text (invalid UTF-8 repaired).
        public var text: String { String(decoding: body.readableBytesView, as: UTF8.self) }
    }

    /// How many messages are kept.
    public let maximumMessages: Int
    /// The largest message accepted, in octets.
    public let maximumMessageSize: Int
    /// Username → password for AUTH; empty: AUTH refused, everyone may send.
    public let credentials: [String: String]
    private let stored = Mutex<[Message]>([])

    /// A backend keeping up to `maximumMessages` messages of up to `maximumMessageSize` octets;
    /// with `credentials`, clients must authenticate with one of them.
    public init(maximumMessages: Int = 1000, maximumMessageSize: Int = 10 << 20, credentials: [String: String] = [:]) {
        self.maximumMessages = maximumMessages
        self.maximumMessageSize = maximumMessageSize
        self.credentials = credentials
    }

    /// The messages kept, oldest first.
    public var messages: [Message] { stored.withLock { $0 } }

    /// Forgets every message.
    public func removeAll() {
        stored.withLock { $0.removeAll() }
    }

    func store(_ message: Message) {
        stored.withLock { messages in
            messages.append(message)
            if messages.count > maximumMessages { messages.removeFirst(messages.count - maximumMessages) }
        }
    }

    /// Checks `credentials`.
    public func login(state: ConnectionState, username: String, password: String, sessionID: String) async throws -> any Session {
        guard !credentials.isEmpty else { throw SMTPError.authUnsupported }
        guard credentials[username] == password else { throw SMTPError.authenticationFailed }
        return closures.session(state: state, username: username)
    }

    /// Opens a session unless `credentials` demand AUTH.
    public func anonymousLogin(state: ConnectionState, sessionID: String) async throws -> any Session {
        guard credentials.isEmpty else { throw SMTPError.authRequired }
        return closures.session(state: state, username: nil)
    }

    private var closures: ClosureBackend {
        let limit = maximumMessageSize
        return ClosureBackend(message: { [self] envelope, body in
            store(Message(envelope: envelope, body: try await body.collect(upTo: limit)))
        })
    }
}

extension ClosureBackend {
    /// A session of this backend for a client already authenticated (or anonymous).
    func session(state: ConnectionState, username: String?) -> any Session {
        ClosureSession(backend: self, envelope: Envelope(state: state, username: username))
    }
}
