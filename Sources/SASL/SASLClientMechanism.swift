/// The client side of one SASL exchange (RFC 4422 §3), as a small state machine over challenge
/// and response bytes. A new value is used for every `AUTH` command.
///
/// ``start()`` gives the initial response sent with the AUTH command (RFC 4954 §4): `nil` for
/// none, an empty array for `=`. Each `334` challenge the server sends is then decoded from
/// base64 and passed to ``respond(to:)``. Base64, the replies and `*` (cancel) are the
/// transport's business: when `respond(to:)` throws, the transport answers `*` so the
/// session stays usable.
public protocol SASLClientMechanism: Sendable {
    /// The mechanism's registered name, e.g. `PLAIN` (IANA "SASL Mechanisms" registry).
    var name: String { get }
    /// The initial response, or `nil` to send none.
    mutating func start() throws(SASLClientError) -> [UInt8]?
    /// The response to a server challenge.
    mutating func respond(to challenge: [UInt8]) throws(SASLClientError) -> [UInt8]
}

/// Why a client-side SASL exchange cannot go on.
public enum SASLClientError: Error, Hashable, Sendable {
    /// The server sent a challenge the mechanism does not expect at this point.
    case unexpectedChallenge(mechanism: String)
    /// The server reported an error inside the exchange (XOAUTH2, OAUTHBEARER): its JSON text.
    case serverError(String)
    /// The credentials cannot be expressed in this mechanism (e.g. a NUL in a PLAIN password).
    case invalidCredentials(String)
}
