import NIOCore
import SMTPCore
import Synchronization

/// A handle on one open connection (go-smtp's `Conn`), for code outside the connection's
/// task: inspect its state, write a reply, reject or close it. ``Server/connections`` lists
/// the open ones.
///
/// The session itself is not reachable from here: a ``Session`` belongs to its connection's
/// task and is used only there (see ``Session``).
public final class Conn: Sendable {
    /// The server that accepted the connection.
    public let server: Server
    let channel: any Channel
    private let current: Mutex<ConnectionState>

    init(server: Server, channel: any Channel, state: ConnectionState) {
        self.server = server
        self.channel = channel
        self.current = Mutex(state)
    }

    /// The connection's state as of its last command.
    public var state: ConnectionState { current.withLock { $0 } }

    /// The TLS state, when TLS is active.
    public var tlsConnectionState: TLSConnectionState? { state.tls }

    func update(_ state: ConnectionState) {
        current.withLock { $0 = state }
    }

    /// Writes a reply now, outside the normal command/reply order (go-smtp's
    /// `WriteResponse`); meant for notices such as a 421 before closing.
    public func writeResponse(code: Int, enhancedCode: EnhancedCode = .notSet, text: String) {
        var buffer = ByteBuffer()
        Reply(code: code, enhancedCode: enhancedCode, text: text).write(to: &buffer)
        channel.writeAndFlush(buffer, promise: nil)
    }

    /// Tells the client the server is too busy (`421 4.4.5`) and closes the connection.
    public func reject() {
        let reply = ServerReplies.tooBusy
        writeResponse(code: reply.code, enhancedCode: reply.enhancedCode, text: reply.text())
        close()
    }

    /// Closes the connection at once.
    public func close() {
        channel.close(promise: nil)
    }
}
