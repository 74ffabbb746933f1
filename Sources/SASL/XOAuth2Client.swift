/// The client side of XOAUTH2 (Google's and Microsoft's OAuth 2.0 mechanism):
/// `user=USER ^A auth=Bearer TOKEN ^A ^A` as the initial response. A server that refuses the
/// token sends a challenge holding a JSON error; the client answers it with an empty response
/// and the server then fails the exchange.
public struct XOAuth2Client: SASLClientMechanism {
    public let name = "XOAUTH2"
    private let username: String
    private let token: String
    /// The JSON error the server sent, if it refused the token.
    public private(set) var serverError: String?

    /// Creates the mechanism with an OAuth 2.0 bearer token.
    public init(username: String, token: String) {
        self.username = username
        self.token = token
    }

    public mutating func start() throws(SASLClientError) -> [UInt8]? {
        guard !(username + token).utf8.contains(1) else { throw .invalidCredentials("XOAUTH2 fields cannot contain ^A") }
        return Array("user=\(username)\u{1}auth=Bearer \(token)\u{1}\u{1}".utf8)
    }

    public mutating func respond(to challenge: [UInt8]) throws(SASLClientError) -> [UInt8] {
        guard serverError == nil else { throw .unexpectedChallenge(mechanism: name) }
        serverError = String(decoding: challenge, as: UTF8.self)
        return []
    }
}
