import NIOCore
import SMTPCore

extension Server {
    /// The PROXY protocol on a listener (HAProxy's proxy-protocol.txt, versions 1 and 2 both
    /// recognised): a load balancer in front says who the client is before anything else is
    /// sent, and the server takes that address as the client's — for the rate limiter, the
    /// connection limits, `secureNetworks`, the accept hook and the backend. The connection's
    /// own addresses stay in ``ConnectionState/original``.
    ///
    /// Only connections from ``trustedProxies`` (and any on a Unix socket, which the file
    /// system's permissions guard) are served; any other is closed without a greeting, as is one
    /// whose header is malformed or does not arrive within ``headerTimeout``.
    public struct ProxyProtocol: Sendable {
        /// The load balancers' addresses.
        public var trustedProxies: [CIDR]
        /// How long the header may take to arrive.
        public var headerTimeout: TimeAmount

        /// PROXY headers from `trustedProxies`, within `headerTimeout`.
        public init(trustedProxies: [CIDR], headerTimeout: TimeAmount = .seconds(10)) {
            self.trustedProxies = trustedProxies
            self.headerTimeout = headerTimeout
        }

        /// Whether a connection from `peer` (`nil` on a Unix socket) may send a header.
        func trusts(_ peer: SocketAddress?) -> Bool {
            guard let peer else { return true }
            if case .unixDomainSocket = peer { return true }
            return trustedProxies.contains { $0.contains(peer) }
        }
    }
}

/// The first handler of a PROXY-protocol listener's connections: gathers the header, hands it to
/// the connection's task through ``header``, passes on what followed it, and leaves the
/// pipeline. A malformed header, or none within the timeout, closes the connection.
final class ProxyHeaderHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var received = ByteBuffer()
    private var deadline: Scheduled<Void>?
    private let promise: EventLoopPromise<ProxyProtocolHeader>
    private var settled = false

    /// Succeeds with the header, or fails when the connection ends without one.
    var header: EventLoopFuture<ProxyProtocolHeader> { promise.futureResult }

    init(eventLoop: any EventLoop, timeout: TimeAmount) {
        self.timeout = timeout
        self.promise = eventLoop.makePromise()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        received.writeBuffer(&bytes)
        do {
            guard let header = try ProxyProtocolHeader.decode(&received) else { return }
            settle(.success(header))
            if received.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(received)) }
            received = ByteBuffer()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        } catch {
            settle(.failure(error))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        settle(.failure(ChannelError.eof))
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        settle(.failure(ChannelError.ioOnClosedChannel))
    }

    /// Completes ``header`` once, and stops the deadline.
    private func settle(_ result: Result<ProxyProtocolHeader, any Error>) {
        deadline?.cancel()
        guard !settled else { return }
        settled = true
        promise.completeWith(result)
    }
}
