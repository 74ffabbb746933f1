/// The client side of EXTERNAL (RFC 4422 Appendix A): the credentials come from outside SASL
/// (a TLS client certificate, a Unix socket's peer); the initial response is the authorization
/// identity to act as, empty to act as the identity the server derives.
public struct ExternalClient: SASLClientMechanism {
    public let name = "EXTERNAL"
    private let authorizationIdentity: String
    private var answered = false

    /// Creates the mechanism.
    public init(authorizationIdentity: String = "") {
        self.authorizationIdentity = authorizationIdentity
    }

    public mutating func start() throws(SASLClientError) -> [UInt8]? { Array(authorizationIdentity.utf8) }

    public mutating func respond(to challenge: [UInt8]) throws(SASLClientError) -> [UInt8] {
        // A server that ignored the initial response asks again with an empty challenge.
        guard challenge.isEmpty, !answered else { throw .unexpectedChallenge(mechanism: name) }
        answered = true
        return Array(authorizationIdentity.utf8)
    }
}
