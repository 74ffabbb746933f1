/// The client side of OAUTHBEARER (RFC 7628 §3.1):
///
/// ```
/// n,a=USER, ^A host=HOST ^A port=PORT ^A auth=Bearer TOKEN ^A ^A
/// ```
/// sent as the initial response. A server that refuses the token sends a JSON error as a
/// challenge (§3.2.2); the client answers with a single `^A` (§3.2.3) and the server fails.
public struct OAuthBearerClient: SASLClientMechanism {
    public let name = "OAUTHBEARER"
    private let username: String?
    private let token: String
    private let host: String?
    private let port: Int?
    /// The JSON error the server sent, if it refused the token.
    public private(set) var serverError: String?

    /// Creates the mechanism. `username` becomes the GS2 authorization identity; `host` and
    /// `port` are those of the server, as RFC 7628 recommends sending them.
    public init(username: String?, token: String, host: String? = nil, port: Int? = nil) {
        self.username = username
        self.token = token
        self.host = host
        self.port = port
    }

    /// Escapes `,` and `=` in a GS2 `saslname` (RFC 5801 §4).
    static func saslName(_ name: String) -> String {
        var escaped = ""
        for character in name {
            switch character {
            case ",": escaped += "=2C"
            case "=": escaped += "=3D"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    public mutating func start() throws(SASLClientError) -> [UInt8]? {
        let fields = [username, host, token].compactMap { $0 }
        guard !fields.joined().utf8.contains(1) else { throw .invalidCredentials("OAUTHBEARER fields cannot contain ^A") }
        var message = "n," + (username.map { "a=" + Self.saslName($0) } ?? "") + ",\u{1}"
        if let host { message += "host=\(host)\u{1}" }
        if let port { message += "port=\(port)\u{1}" }
        message += "auth=Bearer \(token)\u{1}\u{1}"
        return Array(message.utf8)
    }

    public mutating func respond(to challenge: [UInt8]) throws(SASLClientError) -> [UInt8] {
        guard serverError == nil else { throw .unexpectedChallenge(mechanism: name) }
        serverError = String(decoding: challenge, as: UTF8.self)
        return [1]
    }
}
