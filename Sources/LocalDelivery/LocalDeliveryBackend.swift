import DeliveryLog
import Logging
import Maildir
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
    private let userDirectory: Mutex<UserDirectory?>

    /// Creates the backend. `users`, when given, lists the only local users.
    public init(configuration: LocalDeliveryConfiguration, log: DeliveryLog, users: UserDirectory? = nil,
                logger: Logger = Logger(label: "letterbox.delivery"), pool: NIOThreadPool = .singleton) {
        self.configuration = configuration
        self.log = log
        self.names = UniqueNameGenerator(host: configuration.hostname)
        self.logger = logger
        self.pool = pool
        self.userDirectory = Mutex(users)
    }

    /// Replaces the users (SIGHUP); sessions already running keep what they resolved.
    public func reloadUsers(_ users: UserDirectory?) {
        userDirectory.withLock { $0 = users }
    }

    var resolver: RecipientResolver {
        RecipientResolver(configuration: configuration, users: userDirectory.withLock { $0 })
    }

    public func login(state: ConnectionState, username: String, password: String, sessionID: String) async throws -> any Session {
        throw SMTPError.authUnsupported
    }

    public func anonymousLogin(state: ConnectionState, sessionID: String) async throws -> any Session {
        LocalDeliverySession(backend: self, state: state)
    }
}
