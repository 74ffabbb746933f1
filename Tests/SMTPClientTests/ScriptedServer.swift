import NIOCore
import NIOPosix
import Synchronization

/// A one-purpose SMTP peer for behaviours our own server never shows: it greets, then answers
/// each line with whatever `respond` returns (raw text, CRLFs included; `nil` writes nothing).
final class ScriptedServer: Sendable {
    let channel: any Channel
    /// Every line received, in order.
    let lines = Mutex<[String]>([])

    var port: Int { channel.localAddress?.port ?? 0 }

    private init(channel: any Channel) {
        self.channel = channel
    }

    static func start(greeting: String = "220 scripted.test ESMTP\r\n",
                      respond: @escaping @Sendable (String) -> String?) async throws -> ScriptedServer {
        let box = Mutex<ScriptedServer?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Handler(greeting: greeting, respond: respond, record: { line in
                            box.withLock { $0?.lines.withLock { $0.append(line) } }
                        }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let server = ScriptedServer(channel: channel)
        box.withLock { $0 = server }
        return server
    }

    func stop() async {
        try? await channel.close()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let greeting: String
        let respond: @Sendable (String) -> String?
        let record: @Sendable (String) -> Void
        var buffer = ByteBuffer()

        init(greeting: String, respond: @escaping @Sendable (String) -> String?, record: @escaping @Sendable (String) -> Void) {
            self.greeting = greeting
            self.respond = respond
            self.record = record
        }

        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: greeting)), promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            buffer.writeBuffer(&bytes)
            while let end = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let length = end - buffer.readerIndex + 1
                var line = buffer.readString(length: length) ?? ""
                line.removeLast()   // "\r\n" is one Character, like "\n"
                record(line)
                if let answer = respond(line) {
                    if answer == "<close>" {
                        context.close(promise: nil)
                        return
                    }
                    context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer)), promise: nil)
                }
            }
        }
    }
}
