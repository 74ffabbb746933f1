import NIOCore
import NIOPosix
import Testing

/// A raw protocol client for tests: sends exactly the bytes it is given and reads reply lines.
public final class TestClient {
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var buffer = ByteBuffer()
    /// The underlying channel, for adding TLS.
    public let channel: any Channel

    private init(channel: any Channel, inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
                 outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.channel = channel
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    /// Connects to `address`, runs `body`, and closes.
    public static func with<T>(_ address: SocketAddress, _ body: (TestClient) async throws -> T) async throws -> T {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let underlying = channel.channel
        return try await channel.executeThenClose { inbound, outbound in
            try await body(TestClient(channel: underlying, inbound: inbound, outbound: outbound))
        }
    }

    /// Sends `text` as is (the caller writes the CRLFs).
    public func send(_ text: String) async throws {
        try await outbound.write(ByteBuffer(string: text))
    }

    /// Sends raw bytes.
    public func send(bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Sends `line` followed by CRLF.
    public func line(_ line: String) async throws {
        try await send(line + "\r\n")
    }

    /// One line without its CRLF, or `nil` when the server closed the connection.
    public func readLine() async throws -> String? {
        while true {
            if let index = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let length = index - buffer.readerIndex + 1
                var line = buffer.readString(length: length)!
                line.removeLast()
                if line.hasSuffix("\r") { line.removeLast() }
                return line
            }
            guard var more = try await inbound.next() else { return nil }
            buffer.writeBuffer(&more)
        }
    }

    /// All lines of one reply.
    public func readReply() async throws -> [String] {
        var lines: [String] = []
        while let line = try await readLine() {
            lines.append(line)
            let bytes = Array(line.utf8)
            if bytes.count < 4 || bytes[3] == UInt8(ascii: " ") { return lines }
        }
        return lines
    }

    /// Reads one reply and returns its last line (for single-line replies, the reply).
    @discardableResult
    public func reply() async throws -> String {
        try await readReply().last ?? "<closed>"
    }

    /// Sends `line` and returns the last line of its reply.
    @discardableResult
    public func command(_ line: String) async throws -> String {
        try await self.line(line)
        return try await reply()
    }

    /// Reads the greeting and opens a transaction up to DATA's 354: EHLO c, MAIL FROM:<a@b.test>,
    /// RCPT TO:<c@d.test>.
    public func beginData() async throws {
        try await reply()
        try await line("EHLO c")
        _ = try await readReply()
        #expect(try await command("MAIL FROM:<a@b.test>") == "250 2.1.0 Ok")
        #expect(try await command("RCPT TO:<c@d.test>") == "250 2.1.5 Ok")
        #expect(try await command("DATA").hasPrefix("354 "))
    }

    /// Reads until the server closes; returns the lines that came before.
    public func readUntilClosed() async throws -> [String] {
        var lines: [String] = []
        while let line = try await readLine() { lines.append(line) }
        return lines
    }

    /// Reads until the server closes or resets the connection (as the kernel does when a server
    /// closes with the client's octets unread); returns the lines that came before.
    public func readUntilClosedOrReset() async -> [String] {
        var lines: [String] = []
        while let line = try? await readLine() { lines.append(line) }
        return lines
    }

    /// Bytes received but not yet read as lines.
    public var pendingBytes: Int { buffer.readableBytes }
}
