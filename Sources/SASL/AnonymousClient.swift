/// The client side of ANONYMOUS (RFC 4505): the initial response is optional trace
/// information (an e-mail address or an opaque string, at most 255 characters).
public struct AnonymousClient: SASLClientMechanism {
    public let name = "ANONYMOUS"
    private let trace: String
    private var answered = false

    /// Creates the mechanism.
    public init(trace: String = "") {
        self.trace = trace
    }

    public mutating func start() throws(SASLClientError) -> [UInt8]? {
        guard trace.count <= 255 else { throw .invalidCredentials("ANONYMOUS trace is longer than 255 characters") }
        return Array(trace.utf8)
    }

    public mutating func respond(to challenge: [UInt8]) throws(SASLClientError) -> [UInt8] {
        guard challenge.isEmpty, !answered else { throw .unexpectedChallenge(mechanism: name) }
        answered = true
        return Array(trace.utf8)
    }
}
