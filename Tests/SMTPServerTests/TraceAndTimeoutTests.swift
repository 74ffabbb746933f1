import NIOCore
import SMTPCore
import SMTPServer
import Synchronization
import Testing
import TestSupport

// Three minutes: the write-timeout test has the debug build's server answer NOOPs until the
// loopback socket's buffers are full (about 30 s while the whole suite runs on two cores).
@Suite("Protocol trace and write timeout", .timeLimit(.minutes(3)))
struct TraceAndTimeoutTests {
    @Test("the trace shows commands and replies but never AUTH secrets")
    func trace() async throws {
        let lines = Mutex<[String]>([])
        var configuration = Server.Configuration.test(ServerConfiguration(hostname: "mx.test", allowInsecureAuth: true))
        configuration.trace = { line in lines.withLock { $0.append(line) } }
        let secret = Base64.encode(Array("\0user\0secret".utf8))
        try await withServer(configuration) { address, _, _ in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.line("EHLO c")
                _ = try await client.readReply()
                #expect(try await client.command("AUTH PLAIN \(secret)") == "235 2.7.0 Authentication successful")
                try await client.command("MAIL FROM:<a@b.test>")
                try await client.command("RCPT TO:<c@d.test>")
                try await client.command("DATA")
                try await client.send("secret body\r\n.\r\n")
                try await client.reply()
            }
        }
        let trace = lines.withLock { $0 }
        #expect(trace.first == "S: 220 mx.test ESMTP Letterbox")
        #expect(trace.contains("C: EHLO c"))
        #expect(trace.contains("C: AUTH PLAIN ***"))
        #expect(trace.contains("S: 235 2.7.0 Authentication successful"))
        #expect(trace.contains("C: <message data, complete>"))
        #expect(!trace.contains { $0.contains(secret) || $0.contains("secret body") })
    }

    @Test("the continuation lines of an AUTH exchange are hidden too")
    func traceLogin() async throws {
        let lines = Mutex<[String]>([])
        var configuration = Server.Configuration.test(ServerConfiguration(hostname: "mx.test", allowInsecureAuth: true))
        configuration.trace = { line in lines.withLock { $0.append(line) } }
        try await withServer(configuration) { address, _, _ in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.command("HELO c")
                try await client.command("AUTH LOGIN")
                try await client.command(Base64.encode(Array("user".utf8)))
                #expect(try await client.command(Base64.encode(Array("secret".utf8))) == "235 2.7.0 Authentication successful")
            }
        }
        let trace = lines.withLock { $0 }
        #expect(trace.filter { $0 == "C: ***" }.count == 2)
        #expect(!trace.contains { $0.contains(Base64.encode(Array("secret".utf8))) })
    }

    @Test("a client that stops reading its replies is disconnected after the write timeout")
    func writeTimeout() async throws {
        var configuration = Server.Configuration.test()
        configuration.writeTimeout = .milliseconds(300)
        // On a loop of its own: parsing and answering a flood of NOOPs must not hold up the
        // shared loops of the tests running beside this one.
        try await withPrivateEventLoop { loop in
            try await withServer(configuration, eventLoopGroup: loop) { address, _, server in
                try await TestClient.with(address) { client in
                    try await client.reply()
                    // Pipeline NOOPs without reading a single reply until the server gives up.
                    let burst = String(repeating: "NOOP\r\n", count: 20_000)
                    var gaveUp = false
                    for _ in 0..<200 {
                        do {
                            try await client.send(burst)
                        } catch {
                            gaveUp = true
                            break
                        }
                        if server.connectionCount == 0 {
                            gaveUp = true
                            break
                        }
                    }
                    for _ in 0..<1500 where server.connectionCount > 0 { try await Task.sleep(for: .milliseconds(10)) }
                    #expect(gaveUp || server.connectionCount == 0)
                    #expect(server.connectionCount == 0)
                }
            }
        }
    }

    @Test("a message that takes longer than the DATA timeout ends with 421 4.4.2")
    func dataTimeout() async throws {
        var configuration = Server.Configuration.test()
        configuration.dataTimeout = .milliseconds(300)
        try await withServer(configuration) { address, recorder, _ in
            try await TestClient.with(address) { client in
                try await client.beginData()
                var lines: [String] = []
                for _ in 0..<20 {
                    do {
                        try await client.send("slow line\r\n")
                    } catch {
                        break
                    }
                    try await Task.sleep(for: .milliseconds(100))
                    if client.pendingBytes > 0 { break }
                }
                lines = try await client.readUntilClosed()
                #expect(lines == ["421 4.4.2 mx.test Error: message transfer took too long"])
            }
            #expect(recorder.dataErrors.map(\.code) == [421])
        }
    }

    @Test("a client trickling a command a byte at a time is cut off once the line outlives the read timeout")
    func slowCommandLine() async throws {
        var configuration = Server.Configuration.test()
        configuration.readTimeout = .seconds(1)
        try await withServer(configuration) { address, _, _ in
            try await TestClient.with(address) { client in
                try await client.reply()
                // One byte every 200 ms, never a CRLF: never idle for the read timeout, never done.
                // Without the line deadline only the idle timeout would end this, one second
                // after the last of the 26 bytes; with it, the cut comes while bytes still flow.
                let bytes = Array("NOOP and a long, slow line".utf8)
                var sent = 0
                for byte in bytes {
                    do {
                        try await client.send(bytes: [byte])
                    } catch {
                        break
                    }
                    sent += 1
                    try await Task.sleep(for: .milliseconds(200))
                    if client.pendingBytes > 0 { break }
                }
                #expect(try await client.readUntilClosed() == ["421 4.4.2 mx.test Error: timeout exceeded"])
                #expect(sent < bytes.count, "sent all \(sent) bytes before the cut")
            }
        }
    }

    @Test("a client vanishing in the middle of DATA fails the backend's reader with a data reset")
    func disconnectMidData() async throws {
        try await withServer { address, recorder, server in
            try await TestClient.with(address) { client in
                try await client.beginData()
                try await client.send("half a message\r\n")
            }
            for _ in 0..<1000 where server.connectionCount > 0 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(server.connectionCount == 0)
            #expect(recorder.dataErrors == [SMTPError.dataReset])
            #expect(recorder.messages.isEmpty)
        }
    }
}
