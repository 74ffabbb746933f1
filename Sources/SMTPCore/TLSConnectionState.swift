/// The TLS facts of a connection (go-smtp's `tls.ConnectionState`), for the server and the
/// client alike, as far as swift-nio-ssl makes them known: it does not expose the negotiated
/// cipher suite.
public struct TLSConnectionState: Hashable, Sendable {
    /// The negotiated protocol version, e.g. `TLSv1.3`.
    public var protocolVersion: String?
    /// The application protocol agreed by ALPN, if any.
    public var alpnProtocol: String?
    /// Whether the peer presented a certificate (on a server: the client's; on a client: the
    /// server's, which is always the case once a handshake succeeded).
    public var peerCertificatePresented: Bool

    /// Creates a TLS state.
    public init(protocolVersion: String? = nil, alpnProtocol: String? = nil, peerCertificatePresented: Bool = false) {
        self.protocolVersion = protocolVersion
        self.alpnProtocol = alpnProtocol
        self.peerCertificatePresented = peerCertificatePresented
    }
}
