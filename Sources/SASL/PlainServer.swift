/// The server side of the PLAIN mechanism (RFC 4616).
///
/// ```
/// message = [authzid] UTF8NUL authcid UTF8NUL passwd
/// ```
/// Without an initial response, the server sends an empty challenge and takes the message from
/// the next response.
public struct PlainServer: SASLServerMechanism {
    private let verify: SASLPasswordVerifier
    private var challenged = false

    /// Creates the mechanism; `verify` decides whether the credentials are good.
    public init(verify: @escaping SASLPasswordVerifier) {
        self.verify = verify
    }

    /// Parses a PLAIN message, or throws ``SASLError/malformedResponse(_:)``.
    public static func parse(_ message: [UInt8]) throws(SASLError) -> SASLPasswordCredentials {
        let parts = message.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformedResponse("PLAIN message must have three parts") }
        guard let authzid = String(validating: parts[0], as: UTF8.self),
              let authcid = String(validating: parts[1], as: UTF8.self),
              let password = String(validating: parts[2], as: UTF8.self) else {
            throw .malformedResponse("PLAIN message is not UTF-8")
        }
        guard !authcid.isEmpty, !password.isEmpty, !password.utf8.contains(0) else {
            throw .malformedResponse("PLAIN message has an empty user name or password")
        }
        return SASLPasswordCredentials(authorizationIdentity: authzid.isEmpty ? nil : authzid,
                                       username: authcid, password: password)
    }

    /// Advances the exchange.
    public mutating func next(_ response: [UInt8]?) async throws -> SASLServerStep {
        guard let response, !(response.isEmpty && !challenged) else {
            guard !challenged else { throw SASLError.malformedResponse("PLAIN expects a response") }
            challenged = true
            return .challenge([])
        }
        challenged = true
        try await verify(try Self.parse(response))
        return .success
    }
}
