/// The client side of LOGIN (draft-murchison-sasl-login): no initial response; the user name
/// answers the first challenge (`Username:`) and the password the second (`Password:`).
public struct LoginClient: SASLClientMechanism {
    public let name = "LOGIN"
    private let username: String
    private let password: String
    private var step = 0

    /// Creates the mechanism.
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public mutating func start() throws(SASLClientError) -> [UInt8]? { nil }

    public mutating func respond(to challenge: [UInt8]) throws(SASLClientError) -> [UInt8] {
        step += 1
        switch step {
        case 1: return Array(username.utf8)
        case 2: return Array(password.utf8)
        default: throw .unexpectedChallenge(mechanism: name)
        }
    }
}
