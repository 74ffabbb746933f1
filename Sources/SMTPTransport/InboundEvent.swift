import NIOCore
import SMTPCore

/// What a connection's task reads from its channel, on the server and on the client.
package enum InboundEvent: Sendable {
    /// Bytes from the peer (decrypted, under TLS).
    case bytes(ByteBuffer)
    /// Nothing was read for the read timeout (server).
    case readTimeout
    /// The server is shutting down: close once no transaction is in flight (server).
    case shutdown
    /// The TLS handshake completed. On a server, everything before this event that arrived after
    /// the STARTTLS line was sent in plaintext and must be discarded (CVE-2011-0411).
    case tlsEstablished(TLSConnectionState)
}
