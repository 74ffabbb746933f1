import NIOCore
import NIOSSL
import NIOTLS
import SMTPCore
import SMTPTransport

/// The outbound user event that carries the 220 reply to STARTTLS: once it is written, TLS
/// goes in front of everything. Replies themselves are written as plain `ByteBuffer`s, which
/// pass through the pipeline without being cast.
struct StartTLSReply: Sendable {
    let reply: ByteBuffer
}

/// The user event ``Server/shutdown(gracePeriod:)`` sends down every connection's pipeline.
struct ShutdownRequested: Sendable {}

/// The last handler of a connection's pipeline, between the socket (or TLS) and the
/// connection's task.
///
/// It hands bytes, read timeouts and TLS events to the task through ``ConnectionIO``, holds reads
/// back while the task is behind, and carries out STARTTLS on the event loop: the TLS handler
/// is added in the completion of the 220's write, never before (that would deadlock) and never
/// later from the task (that would race the ClientHello).
final class ConnectionChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Where the connection's task picks up what this handler receives.
    let io: ConnectionIO
    private let tlsContext: NIOSSLContext?
    private let handshakeTimeout: TimeAmount?
    /// Closes the connection if a handshake (after STARTTLS, or the implicit TLS of an SMTPS
    /// listener from the first byte) does not complete in time.
    private var handshakeDeadline: Scheduled<Void>?
    /// Whether the connection began with TLS (an SMTPS listener, RFC 8314 §3.3).
    private let implicitTLS: Bool
    private let readTimeout: TimeAmount?
    /// When bytes last arrived (or the handler was added).
    private var lastRead = NIODeadline.now()
    /// Fires `readTimeout` after the last read, or looks again when bytes came in meanwhile.
    private var readCheck: Scheduled<Void>?
    private let writeTimeout: TimeAmount?
    /// Looks every `writeTimeout` for replies the client does not read.
    private var writeCheck: RepeatedTask?
    /// Octets that were waiting to be written at the last look.
    private var unwrittenAtLastCheck = 0

    init(channel: any Channel, tlsContext: NIOSSLContext?, handshakeTimeout: TimeAmount?, readTimeout: TimeAmount? = nil,
         writeTimeout: TimeAmount? = nil, implicitTLS: Bool = false) {
        self.io = ConnectionIO(channel: channel)
        self.implicitTLS = implicitTLS
        self.tlsContext = tlsContext
        self.handshakeTimeout = handshakeTimeout
        self.readTimeout = readTimeout
        self.writeTimeout = writeTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if implicitTLS, let handshakeTimeout {
            // The same deadline STARTTLS's handshake has: a client that connects to an SMTPS
            // port and never completes its handshake is closed then, not at the read timeout.
            let channel = context.channel
            handshakeDeadline = context.eventLoop.scheduleTask(in: handshakeTimeout) { channel.close(promise: nil) }
        }
        if let readTimeout {
            lastRead = .now()
            scheduleReadCheck(at: lastRead + readTimeout, eventLoop: context.eventLoop)
        }
        guard let writeTimeout else { return }
        // Replies stuck because the client does not read them: octets waiting at two looks in a
        // row and not fewer at the second, so closed between one and two write timeouts after
        // the client stopped reading. A connection with nothing to write is never closed here.
        let channel = context.channel
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        writeCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: writeTimeout, delay: writeTimeout) { _ in
            let unwritten = (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
            let previous = handler.value.unwrittenAtLastCheck
            handler.value.unwrittenAtLastCheck = unwritten
            if unwritten > 0 && previous > 0 && unwritten >= previous { channel.close(promise: nil) }
        }
    }

    /// The read timeout (what NIO's `IdleStateHandler` would do, without a handler of its own
    /// in the pipeline that every read and write passes through): the task learns that the
    /// client sent nothing for `readTimeout`. The timer is not moved on every read; when it
    /// fires early because bytes came meanwhile, it is set again for the new deadline.
    private func scheduleReadCheck(at deadline: NIODeadline, eventLoop: any EventLoop) {
        let handler = NIOLoopBound(self, eventLoop: eventLoop)
        readCheck = eventLoop.scheduleTask(deadline: deadline) {
            let handler = handler.value
            guard let readTimeout = handler.readTimeout else { return }
            let due = handler.lastRead + readTimeout
            if NIODeadline.now() >= due {
                handler.io.push(.readTimeout)
                handler.scheduleReadCheck(at: .now() + readTimeout, eventLoop: eventLoop)
            } else {
                handler.scheduleReadCheck(at: due, eventLoop: eventLoop)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if readTimeout != nil { lastRead = .now() }
        io.push(.bytes(unwrapInboundIn(data)))
    }

    func channelInactive(context: ChannelHandlerContext) {
        readCheck?.cancel()
        writeCheck?.cancel()
        io.end()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        handshakeDeadline?.cancel()
        readCheck?.cancel()
        writeCheck?.cancel()
        io.end()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A broken socket or a TLS failure: nothing more can be read or written.
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        io.writabilityChanged(context.channel.isWritable)
    }

    func read(context: ChannelHandlerContext) {
        if io.mayRead() { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ShutdownRequested {
            io.push(.shutdown)
            return
        }
        if let tls = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = tls {
            handshakeDeadline?.cancel()
            handshakeDeadline = nil
            let state = TLSConnectionState(negotiatedOn: context.channel, alpn: negotiated)
            io.push(.tlsEstablished(state))
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let startTLS = event as? StartTLSReply else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        let reply = startTLS.reply
        guard let tlsContext else {
            context.writeAndFlush(wrapOutboundOut(reply), promise: promise)
            return
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(reply), promise: written)
        let channel = context.channel
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        written.futureResult.whenComplete { result in
            switch result {
            case .success:
                do {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext), position: .first)
                    if let timeout = handler.value.handshakeTimeout {
                        handler.value.handshakeDeadline = channel.eventLoop.scheduleTask(in: timeout) {
                            channel.close(promise: nil)
                        }
                    }
                    promise?.succeed()
                } catch {
                    promise?.fail(error)
                    channel.close(promise: nil)
                }
            case .failure(let error):
                promise?.fail(error)
            }
        }
    }
}
