import NIOCore
import NIOSSL
import SMTPCore

extension TLSConnectionState {
    /// Reads the negotiated TLS facts from `channel`'s TLS handler, server or client side. Call
    /// on the channel's event loop, once the handshake has completed.
    package init(negotiatedOn channel: any Channel, alpn: String?) {
        self.init(alpnProtocol: alpn)
        let pipeline = channel.pipeline.syncOperations
        let handler: NIOSSLHandler? = (try? pipeline.handler(type: NIOSSLServerHandler.self))
            ?? (try? pipeline.handler(type: NIOSSLClientHandler.self))
        if let handler {
            protocolVersion = handler.tlsVersion.map(Self.name)
            peerCertificatePresented = handler.peerCertificate != nil
        }
    }

    /// The conventional name of a TLS version, as OpenSSL prints it.
    package static func name(_ version: TLSVersion) -> String {
        switch version {
        case .tlsv1: return "TLSv1.0"
        case .tlsv11: return "TLSv1.1"
        case .tlsv12: return "TLSv1.2"
        case .tlsv13: return "TLSv1.3"
        }
    }
}
