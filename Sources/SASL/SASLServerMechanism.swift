/// What a server-side SASL mechanism answers to a client response (RFC 4422 §3).
public enum SASLServerStep: Hashable, Sendable {
    /// Send this challenge (base64-encoded in a `334` reply, RFC 4954 §4) and wait for the
    /// client's response.
    case challenge([UInt8])
    /// The exchange succeeded; the mechanism has authenticated the client.
    case success
}

/// Why a SASL exchange failed on the server side.
public enum SASLError: Error, Hashable, Sendable {
    /// The client's response does not have the mechanism's syntax (RFC 4954: 501).
    case malformedResponse(String)
    /// The credentials were refused (RFC 4954: 535 5.7.8).
    case authenticationFailed
    /// The exchange cannot complete now (RFC 4954: 454 4.7.0).
    case temporaryFailure(String)
}

/// The server side of one SASL exchange, as a small state machine over challenge and response
/// bytes (RFC 4422 §3). A new value is made for every `AUTH` command.
///
/// ``next(_:)`` is called first with the initial response of the AUTH command (`nil` when the
/// client sent none, `[]` for `=`), then once with each of the client's later responses.
/// Base64, the `334` replies and the client's `*` (cancel) are the transport's business.
public protocol SASLServerMechanism {
    /// Advances the exchange with the client's response.
    mutating func next(_ response: [UInt8]?) async throws -> SASLServerStep
}

/// Credentials yielded by a password mechanism (PLAIN, LOGIN).
public struct SASLPasswordCredentials: Hashable, Sendable {
    /// The identity to act as, when it differs from the user (RFC 4616 `authzid`); `nil` if empty.
    public var authorizationIdentity: String?
    /// The authentication identity (`authcid`), i.e. the user name.
    public var username: String
    /// The password.
    public var password: String

    /// Creates credentials.
    public init(authorizationIdentity: String? = nil, username: String, password: String) {
        self.authorizationIdentity = authorizationIdentity
        self.username = username
        self.password = password
    }
}

/// Checks credentials; throws ``SASLError/authenticationFailed`` (or any error that the
/// transport maps to a reply) to refuse them.
public typealias SASLPasswordVerifier = (SASLPasswordCredentials) async throws -> Void
