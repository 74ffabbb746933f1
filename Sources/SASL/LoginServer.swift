/// The server side of the LOGIN mechanism (draft-murchison-sasl-login): the server asks for
/// `Username:` and then `Password:`; an initial response is taken as the user name.
public struct LoginServer: SASLServerMechanism {
    private let verify: SASLPasswordVerifier
    private var username: String?
    private var started = false

    /// The two challenges, as clients expect them.
    public static let usernameChallenge = Array("Username:".utf8)
    /// The second challenge.
    public static let passwordChallenge = Array("Password:".utf8)

    /// Creates the mechanism; `verify` decides whether the credentials are good.
    public init(verify: @escaping SASLPasswordVerifier) {
        self.verify = verify
    }

    /// Advances the exchange.
    public mutating func next(_ response: [UInt8]?) async throws -> SASLServerStep {
        if !started {
            started = true
            guard let response, !response.isEmpty else { return .challenge(Self.usernameChallenge) }
            username = try Self.text(response, "user name")
            return .challenge(Self.passwordChallenge)
        }
        guard let response else { throw SASLError.malformedResponse("LOGIN expects a response") }
        guard let username else {
            self.username = try Self.text(response, "user name")
            return .challenge(Self.passwordChallenge)
        }
        let password = try Self.text(response, "password")
        try await verify(SASLPasswordCredentials(username: username, password: password))
        return .success
    }

    private static func text(_ bytes: [UInt8], _ what: String) throws(SASLError) -> String {
        guard !bytes.isEmpty, !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self) else {
            throw .malformedResponse("LOGIN \(what) is empty or not UTF-8")
        }
        return text
    }
}
