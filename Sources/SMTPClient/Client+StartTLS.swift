import NIOCore
import NIOSSL
import SMTPCore

extension Client {
    /// Upgrades the connection with STARTTLS (RFC 3207) and greets again, as §4.2 requires.
    ///
    /// If the server sent anything after its 220 before TLS began — a response-injection
    /// attempt — the connection is closed and ``SMTPClientError/startTLSResponseInjection`` is
    /// thrown. `configuration` defaults to the client's ``Configuration/tls``.
    public func startTLS(configuration tlsConfiguration: TLSConfiguration? = nil) async throws {
        try checkUsable()
        try await ensureHello()
        guard capabilities.contains("STARTTLS") else { throw SMTPClientError.extensionNotSupported("STARTTLS") }
        let context = try NIOSSLContext(configuration: tlsConfiguration ?? configuration.tls)
        try await command("STARTTLS", expecting: 220...220)
        let channel = transport.channel
        let io = transport.io
        let hostname = serverHostname
        // Whatever the server sent after the 220 is already in our buffers, or arrives before the
        // TLS handler is in place (checked on the event loop, where reads happen): both mean
        // plaintext that claims to come from the TLS session.
        let clean = !transport.hasBufferedInput
        let added = try await channel.eventLoop.submit { () -> Bool in
            guard clean, io.isEmpty else { return false }
            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: hostname),
                                                           position: .first)
            return true
        }.get()
        guard added else {
            await close()
            throw SMTPClientError.startTLSResponseInjection
        }
        do {
            try await transport.awaitTLS(timeout: self.configuration.commandTimeout)
        } catch SMTPClientError.startTLSResponseInjection {
            await close()
            throw SMTPClientError.startTLSResponseInjection
        }
        capabilities = Capabilities()
        try await greet(again: true)
    }
}
