import DeliveryLog
import Logging
import Maildir
import NIOCore
import NIOPosix
import SMTPCore
import SMTPServer
import Synchronization

/// The LMTP backend of `letterbox`: each accepted recipient's message goes durably into its
/// Maildir, every outcome into the delivery log, one status per recipient.
public final class LocalDeliveryBackend: Backend {
    let configuration: LocalDeliveryConfiguration
    let log: DeliveryLog
    let names: UniqueNameGenerator
    let logger: Logger
    /// Blocking file work runs here, never on an event loop.
    let pool: NIOThreadPool
    private let users: Mutex<(any UserLookup)?>
    /// Deliveries on their way to their links (see ``LinkGathering``).
    let linkGathering: LinkGathering
    /// The file work's timers (made once, with the backend).
    let metrics = DeliveryMetrics()
    /// Recipients' Sieve scripts, compiled once per change, when Sieve is configured.
    let sieveScripts: SieveScripts?

    /// Creates the backend. `users`, when given, has the only local users (the users file, or
    /// a users table).
    public init(configuration: LocalDeliveryConfiguration, log: DeliveryLog, users: (any UserLookup)? = nil,
                logger: Logger = Logger(label: "letterbox.delivery"), pool: NIOThreadPool = .singleton) {
        self.configuration = configuration
        self.log = log
        self.names = UniqueNameGenerator(host: configuration.hostname)
        self.logger = logger
        self.pool = pool
        self.users = Mutex(users)
        self.linkGathering = LinkGathering(window: configuration.linkGatherWindow, onRelease: { [log] in log.announce($0) })
        self.sieveScripts = configuration.sieve.map { sieve in
            SieveScripts(SieveScripts.Settings(template: sieve.script, before: sieve.before, after: sieve.after,
                                               mailRoot: configuration.mailRoot))
        }
    }

    /// Replaces the users (SIGHUP); sessions already running keep what they resolved.
    public func reloadUsers(_ users: (any UserLookup)?) {
        self.users.withLock { $0 = users }
    }

    var resolver: RecipientResolver {
        RecipientResolver(configuration: configuration, users: users.withLock { $0 })
    }

    public func login(state: ConnectionState, username: String, password: String, sessionID: String) async throws -> any Session {
        throw SMTPError.authUnsupported
    }

    public func anonymousLogin(state: ConnectionState, sessionID: String) async throws -> any Session {
        LocalDeliverySession(backend: self, state: state)
    }

    /// Delivers one message without a socket (`letterbox deliver`, like dovecot-lda): the same
    /// checks and pipeline as an LMTP transaction. Returns one outcome per recipient, in order:
    /// `nil` when delivered (or suppressed as a duplicate), else the reply an LMTP client would
    /// have got. Throws only when the body itself could not be read.
    public func deliver<Body: AsyncSequence>(from sender: ReversePath, to recipients: [Address], body: Body,
                                             mailOptions: MailOptions = MailOptions()) async throws -> [SMTPError?]
    where Body.Element == ByteBuffer {
        let state = ConnectionState(sessionID: generateSessionID(), hostname: "localhost")
        let session = LocalDeliverySession(backend: self, state: state)
        try await session.mail(from: sender, options: mailOptions)
        var outcomes = [SMTPError?](repeating: nil, count: recipients.count)
        var accepted: [Int] = []
        for (index, recipient) in recipients.enumerated() {
            do {
                try await session.rcpt(to: recipient, options: RcptOptions())
                accepted.append(index)
            } catch let error as SMTPError {
                outcomes[index] = error
            }
        }
        let delivered: [SMTPError?]
        do {
            delivered = accepted.isEmpty ? [] : try await session.deliver(body)
        } catch {
            await session.logout()
            throw error
        }
        // Ended as a connection would end: refusals of a transaction without a message are
        // recorded then.
        await session.logout()
        for (position, reply) in delivered.enumerated() { outcomes[accepted[position]] = reply }
        return outcomes
    }
}
