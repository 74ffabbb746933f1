import SASL
import SMTPCore

extension Client {
    /// Authenticates with a SASL mechanism (RFC 4954). The server must offer AUTH and the
    /// mechanism. A refusal throws the server's `SMTPError` (535, 454, …). If the mechanism
    /// cannot answer a challenge, the client cancels with `*` (RFC 4954 §4), reads the 501 and
    /// throws the mechanism's error; the session stays usable either way.
    public func auth(_ mechanism: some SASLClientMechanism) async throws {
        var mechanism = mechanism
        try checkUsable()
        try await ensureHello()
        guard capabilities.contains("AUTH") else { throw SMTPClientError.extensionNotSupported("AUTH") }
        guard capabilities.authMechanisms.contains(mechanism.name.uppercased()) else {
            throw SMTPClientError.extensionNotSupported("AUTH " + mechanism.name)
        }
        let initial = try mechanism.start()
        let line = Command.auth(mechanism: mechanism.name, initialResponse: initial).line
        var reply = try await command(line, traced: initial == nil ? line : "AUTH \(mechanism.name) ***")
        while reply.code == 334 {
            let challenge = reply.lines.first ?? ""
            guard let decoded = Base64.decode(challenge) else {
                try await cancelAuth()
                throw SMTPClientError.malformedReply("334 challenge is not base64")
            }
            let response: [UInt8]
            do {
                response = try mechanism.respond(to: decoded)
            } catch {
                try await cancelAuth()
                throw error
            }
            reply = try await command(Base64.encode(response), traced: "***")
        }
        guard reply.code == 235 else { throw Self.failure(reply) }
    }

    /// Cancels an exchange with `*` and reads the server's 501.
    private func cancelAuth() async throws {
        _ = try await command("*")
    }
}
