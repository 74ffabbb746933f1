/// The client side of PLAIN (RFC 4616): `[authzid] NUL authcid NUL passwd`, sent as the
/// initial response.
public struct PlainClient: SASLClientMechanism {
    public let name = "PLAIN"
    private let message: [UInt8]
    private let valid: Bool

    /// Creates the mechanism; `authorizationIdentity` is the identity to act as, if not the user.
    public init(authorizationIdentity: String? = nil, username: String, password: String) {
        let parts = [authorizationIdentity ?? "", username, password]
        valid = parts.allSatisfy { !$0.utf8.contains(0) }
        message = Array(parts.joined(separator: "\0").utf8)
    }

    public mutating func start() throws(SASLClientError) -> [UInt8]? {
        guard valid else { throw .invalidCredentials("PLAIN credentials cannot contain NUL") }
        return message
    }

    public mutating func respond(to challenge: [UInt8]) throws(SASLClientError) -> [UInt8] {
        // RFC 4616 §2: a server that ignored the initial response sends an empty challenge.
        guard challenge.isEmpty, valid else { throw .unexpectedChallenge(mechanism: name) }
        return message
    }
}
