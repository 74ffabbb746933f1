import NIOCore
import NIOTLS
import SMTPCore
import SMTPTransport

/// The last handler of a client's pipeline: hands what the server sends, and the completion of
/// a TLS handshake, to the client's task through ``ConnectionIO``.
final class ClientChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    /// Where the client's task picks up what this handler receives.
    let io: ConnectionIO

    init(channel: any Channel) {
        io = ConnectionIO(channel: channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        io.push(.bytes(unwrapInboundIn(data)))
    }

    func channelInactive(context: ChannelHandlerContext) {
        io.end()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        io.end()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A TLS failure or a broken socket: the client's task sees the error, then the end.
        io.end(error: error)
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        io.writabilityChanged(context.channel.isWritable)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = tls {
            io.push(.tlsEstablished(TLSConnectionState(negotiatedOn: context.channel, alpn: negotiated)))
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
