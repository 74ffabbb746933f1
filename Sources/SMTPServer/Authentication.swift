import SASL
import SMTPCore

/// What a server-side SASL mechanism may use during one AUTH exchange, and where it leaves
/// the session it authenticated. It belongs to the connection's task.
public final class AuthenticationContext {
    /// The connection's state when AUTH began.
    public let state: ConnectionState
    /// The server's backend.
    public let backend: any Backend
    /// Set by the mechanism when authentication succeeds: the authenticated user's session.
    /// A mechanism that reports success without setting it fails with 454 4.7.0.
    public var session: (any Session)?

    init(state: ConnectionState, backend: any Backend) {
        self.state = state
        self.backend = backend
    }

    /// Verifies password credentials with ``Backend/login(state:username:password:sessionID:)``
    /// and keeps the session: the verifier PLAIN and LOGIN use.
    public func passwordVerifier() -> SASLPasswordVerifier {
        { credentials in
            self.session = try await self.backend.login(state: self.state, username: credentials.username,
                                                        password: credentials.password, sessionID: self.state.sessionID)
        }
    }
}

/// Makes the server side of a SASL mechanism for one AUTH exchange (go-smtp's
/// `SaslServerFactory`).
public typealias SASLServerFactory = @Sendable (AuthenticationContext) -> any SASLServerMechanism

/// The mechanisms a server offers, in announcement order.
struct AuthenticationMechanisms: Sendable {
    private(set) var names: [String] = []
    private var factories: [String: SASLServerFactory] = [:]

    /// PLAIN (RFC 4616) and LOGIN, verified by the backend's `login`.
    static let standard: AuthenticationMechanisms = {
        var mechanisms = AuthenticationMechanisms()
        mechanisms.set("PLAIN") { PlainServer(verify: $0.passwordVerifier()) }
        mechanisms.set("LOGIN") { LoginServer(verify: $0.passwordVerifier()) }
        return mechanisms
    }()

    mutating func set(_ name: String, _ factory: @escaping SASLServerFactory) {
        let upper = name.uppercased()
        if factories[upper] == nil { names.append(upper) }
        factories[upper] = factory
    }

    func make(_ name: String, _ context: AuthenticationContext) -> (any SASLServerMechanism)? {
        factories[name.uppercased()].map { $0(context) }
    }
}
