import Foundation
import NIOCore
import NIOPosix
import SMTPCore
import SMTPServer
import Synchronization
import Testing
import TestSupport

/// A session whose `data` reads the first chunk of the body, then waits for the test to open
/// the gate before reading the rest; it counts the octets it was given.
final class GatedSession: Session, Sendable {
    let gate: AsyncStream<Void>
    let octets = Mutex(0)

    init(gate: AsyncStream<Void>) {
        self.gate = gate
    }

    func reset() async {}
    func logout() async {}
    func mail(from: ReversePath, options: MailOptions) async throws {}
    func rcpt(to: Address, options: RcptOptions) async throws {}
    func data(_ body: MessageBody) async throws {
        var iterator = body.makeAsyncIterator()
        var total = 0
        if let first = try await iterator.next() { total += first.readableBytes }
        for await _ in gate { break }
        while let chunk = try await iterator.next() { total += chunk.readableBytes }
        octets.withLock { $0 = total }
    }
}

struct GatedBackend: Backend {
    let session: GatedSession
    func anonymousLogin(state: ConnectionState, sessionID: String) async throws -> any Session { session }
}

/// A blocking client on a plain POSIX Unix socket: lets the test see exactly how many octets
/// the kernel and the server have taken.
struct BlockingUnixClient: ~Copyable {
    let descriptor: Int32

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        let address = try SocketAddress(unixDomainSocketPath: path)
        let connected = address.withSockAddr { pointer, length in connect(descriptor, pointer, socklen_t(length)) }
        guard connected == 0 else { throw IOError(errnoCode: errno, reason: "connect") }
    }

    deinit { close(descriptor) }

    /// Sends everything, blocking.
    func send(_ bytes: ArraySlice<UInt8>) throws {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw IOError(errnoCode: errno, reason: "send") }
            offset += sent
        }
    }

    /// Sends as much of `bytes` as can be sent without blocking; returns how much that was.
    func sendWithoutBlocking(_ bytes: ArraySlice<UInt8>) -> Int {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            guard sent > 0 else { break }
            offset += sent
        }
        return offset - bytes.startIndex
    }

    /// Reads one reply line (the replies of this test are single lines).
    func readLine() throws -> String {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.last != 0x0A {
            guard recv(descriptor, &byte, 1, 0) == 1 else { throw IOError(errnoCode: errno, reason: "recv") }
            line.append(byte)
        }
        return String(decoding: line.dropLast(2), as: UTF8.self)
    }
}

@Suite("Backpressure", .timeLimit(.minutes(1)))
struct BackpressureTests {
    @Test("the server reads a body no faster than the backend consumes it", arguments: [
        Server.ConnectionExecutor.eventLoop, .globalConcurrent,
    ])
    func bodyBackpressure(executor: Server.ConnectionExecutor) async throws {
        let (gate, opener) = AsyncStream<Void>.makeStream()
        let session = GatedSession(gate: gate)
        var configuration = Server.Configuration.test()
        configuration.connectionExecutor = executor
        let line = [UInt8](repeating: UInt8(ascii: "x"), count: 1022) + [13, 10]
        var body: [UInt8] = []
        body.reserveCapacity(8 << 20)
        for _ in 0..<(8 * 1024) { body += line }   // 8 MiB
        let message = body
        try await withTemporaryDirectory { directory in
            let path = directory + "/smtp.sock"
            try await withPrivateEventLoop { loop in
                try await withServer(configuration, endpoint: .unix(path: path), backend: { _ in GatedBackend(session: session) },
                                     eventLoopGroup: loop) { _, _, _ in
                    // A blocking client, on a thread of its own rather than one of the executor's.
                    let (accepted, reply) = try await NIOThreadPool.singleton.runIfActive {
                        let client = try BlockingUnixClient(path: path)
                        _ = try client.readLine()
                        for command in ["HELO c", "MAIL FROM:<a@b.test>", "RCPT TO:<c@d.test>", "DATA"] {
                            try client.send(Array("\(command)\r\n".utf8)[...])
                            _ = try client.readLine()
                        }
                        // The backend holds the body after its first chunk: sending soon stops.
                        var accepted = 0
                        for _ in 0..<200 {
                            accepted += client.sendWithoutBlocking(message[accepted...])
                            usleep(5_000)
                        }
                        opener.yield()
                        opener.finish()
                        try client.send(message[accepted...])
                        try client.send(Array(".\r\n".utf8)[...])
                        return (accepted, try client.readLine())
                    }
                    #expect(accepted < 2 << 20, "the server took \(accepted) octets while its backend read nothing")
                    #expect(reply == "250 2.0.0 Ok: queued")
                    #expect(session.octets.withLock { $0 } == message.count)
                }
            }
        }
    }
}
