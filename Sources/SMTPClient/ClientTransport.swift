import NIOCore
import SMTPCore
import SMTPTransport

/// The client's side of the connection: one input buffer, the reply decoder, timeouts and the
/// trace. Used from the client's task only.
final class ClientTransport {
    let channel: any Channel
    let io: ConnectionIO
    private var input = ByteBuffer()
    private var decoder = ReplyDecoder()
    private let trace: (@Sendable (String) -> Void)?
    /// Set when a TLS handshake completes.
    private(set) var tlsState: TLSConnectionState?

    init(channel: any Channel, io: ConnectionIO, trace: (@Sendable (String) -> Void)?) {
        self.channel = channel
        self.io = io
        self.trace = trace
    }

    /// Whether the server sent anything not yet consumed.
    var hasBufferedInput: Bool { input.readableBytes > 0 || decoder.bufferedByteCount > 0 }

    /// Runs `body`; if it has not finished after `timeout`, the connection is closed and the
    /// pending read fails with ``SMTPClientError/timeout``.
    func withTimeout<T>(_ timeout: TimeAmount, _ body: () async throws -> T) async throws -> T {
        let io = self.io
        let channel = self.channel
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            io.end(error: SMTPClientError.timeout)
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        return try await body()
    }

    /// Writes `buffer` and flushes it.
    func write(_ buffer: ByteBuffer) async throws {
        do {
            try await io.write(buffer)
        } catch let error as SMTPClientError {
            throw error
        } catch {
            throw SMTPClientError.connectionClosed
        }
    }

    /// Writes command lines in one write (one line unless pipelining), tracing them.
    func send(_ lines: [String], traced: [String]? = nil) async throws {
        var buffer = ByteBuffer()
        for line in lines {
            buffer.writeString(line)
            buffer.writeStaticString("\r\n")
        }
        if let trace {
            for line in traced ?? lines { trace("C: " + line) }
        }
        try await write(buffer)
    }

    /// Notes message data in the trace without copying it.
    func traceData(_ summary: String) {
        trace?("C: " + summary)
    }

    /// Reads the next reply.
    func readReply(timeout: TimeAmount) async throws -> Reply {
        try await withTimeout(timeout) {
            while true {
                let reply: Reply?
                do {
                    reply = try decoder.decode(&input)
                } catch {
                    throw SMTPClientError.malformedReply("\(error)")
                }
                if let reply {
                    if let trace { for line in reply.description.split(separator: "\r\n") { trace("S: " + line) } }
                    return reply
                }
                try await receive()
            }
        }
    }

    /// Reads exactly `count` raw octets (the SOCKS5 handshake).
    func readBytes(_ count: Int, timeout: TimeAmount) async throws -> [UInt8] {
        try await withTimeout(timeout) {
            while input.readableBytes < count { try await receive() }
            return input.readBytes(length: count) ?? []
        }
    }

    /// Waits for the TLS handshake; plaintext arriving first is an injection attempt.
    func awaitTLS(timeout: TimeAmount) async throws {
        try await withTimeout(timeout) {
            while tlsState == nil {
                guard try await receive(allowBytes: false) else { throw SMTPClientError.startTLSResponseInjection }
            }
        }
    }

    /// Takes one event from the channel into the input buffer. Returns `false` when bytes came
    /// and `allowBytes` is `false`.
    @discardableResult
    private func receive(allowBytes: Bool = true) async throws -> Bool {
        let event: InboundEvent?
        do {
            event = try await io.next()
        } catch let error as SMTPClientError {
            throw error
        } catch {
            throw SMTPClientError.connectionClosed
        }
        guard let event else { throw SMTPClientError.connectionClosed }
        switch event {
        case .bytes(var bytes):
            guard allowBytes else { return false }
            input.writeBuffer(&bytes)
        case .tlsEstablished(let state):
            tlsState = state
        case .readTimeout, .shutdown:
            break   // server-side events; never sent to a client
        }
        return true
    }

    /// Closes the connection.
    func close() async {
        try? await channel.close()
    }
}
