/// The client side of CRAM-MD5 (RFC 2195): the server's challenge is answered with the user
/// name, a space and the lower-case hex HMAC-MD5 (RFC 2104) of the challenge keyed with the
/// password.
public struct CRAMMD5Client: SASLClientMechanism {
    public let name = "CRAM-MD5"
    private let username: String
    private let password: String
    private var answered = false

    /// Creates the mechanism.
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public mutating func start() throws(SASLClientError) -> [UInt8]? { nil }

    public mutating func respond(to challenge: [UInt8]) throws(SASLClientError) -> [UInt8] {
        guard !answered else { throw .unexpectedChallenge(mechanism: name) }
        answered = true
        let digest = MD5.hmac(key: Array(password.utf8), message: challenge)
        return Array(username.utf8) + [UInt8(ascii: " ")] + Array(MD5.hex(digest).utf8)
    }
}
