import Crypto

/// The client side of CRAM-MD5 (RFC 2195): the server's challenge is answered with the user
/// name, a space and the lower-case hex HMAC-MD5 (RFC 2104) of the challenge keyed with the
/// password. HMAC-MD5 comes from swift-crypto (`Insecure.MD5`: MD5 is broken for signatures;
/// CRAM-MD5 needs it as its keyed challenge response and nothing else here uses it).
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
        let digest = HMAC<Insecure.MD5>.authenticationCode(for: challenge, using: SymmetricKey(data: Array(password.utf8)))
        let hexDigits = Array("0123456789abcdef".utf8)
        return Array(username.utf8) + [UInt8(ascii: " ")] + digest.flatMap { [hexDigits[Int($0 >> 4)], hexDigits[Int($0 & 0x0F)]] }
    }
}
