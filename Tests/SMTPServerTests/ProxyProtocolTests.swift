import Foundation
import NIOCore
import NIOPosix
import SMTPCore
import SMTPServer
import Synchronization
import Testing
import TestSupport

/// Listeners behind a load balancer: the PROXY protocol, by hand and from a real HAProxy.
@Suite("PROXY protocol", .serialized, .timeLimit(.minutes(2)))
struct ProxyProtocolTests {
    /// A server on a PROXY listener, its backend recording the state of every session.
    func withProxyServer(_ configuration: Server.Configuration = .test(), endpoint: Server.Endpoint = .tcp(host: "127.0.0.1", port: 0),
                         trusted: [String] = ["127.0.0.1"], headerTimeout: TimeAmount = .seconds(10),
                         _ body: (SocketAddress, Recorder, ProxyingBackend) async throws -> Void) async throws {
        let policy = Server.ProxyProtocol(trustedProxies: trusted.compactMap { CIDR($0) }, headerTimeout: headerTimeout)
        try await withProxyingServer(allow: false, configuration, endpoint: endpoint, proxyProtocol: policy, body)
    }

    @Test("a version 1 header by hand: the backend sees the client it names, the proxy's address kept as original; what followed the header is read")
    func textHeader() async throws {
        try await withProxyServer { address, _, backend in
            try await TestClient.with(address) { client in
                // The header and a command in one write: the command must survive the header's removal.
                try await client.send("PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\nNOOP\r\n")
                #expect(try await client.reply() == "220 mx.test ESMTP Letterbox")
                #expect(try await client.reply() == "250 2.0.0 Ok")
                try await client.command("EHLO c")
                #expect(try await client.command("MAIL FROM:<a@b.test>") == "250 2.1.0 Ok")
            }
            let state = try #require(backend.sessionStates.withLock { $0.first })
            #expect(state.remoteAddress == (try SocketAddress(ipAddress: "192.0.2.7", port: 56324)))
            #expect(state.localAddress == (try SocketAddress(ipAddress: "198.51.100.1", port: 25)))
            #expect(state.original?.value.remoteAddress?.ipAddress == "127.0.0.1")
        }
    }

    @Test("version 2 LOCAL (the proxy's own check) keeps the connection's addresses")
    func binaryLocal() async throws {
        try await withProxyServer { address, _, backend in
            try await TestClient.with(address) { client in
                try await client.send(bytes: [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x20, 0x00, 0x00, 0x00])
                #expect(try await client.reply() == "220 mx.test ESMTP Letterbox")
                try await client.command("EHLO c")
                #expect(try await client.command("MAIL FROM:<a@b.test>") == "250 2.1.0 Ok")
            }
            let state = try #require(backend.sessionStates.withLock { $0.first })
            #expect(state.remoteAddress?.ipAddress == "127.0.0.1" && state.original == nil)
        }
    }

    @Test("no greeting for a malformed header, a client that speaks first, an untrusted address, or a header that never comes", arguments: [
        "PROXY TCP4 192.0.2.7 198.51.100.1 99999 25\r\n", "EHLO client.test\r\n", "PROXY TCP4 192.0.2.7\r\n",
    ])
    func refused(_ opening: String) async throws {
        try await withProxyServer { address, _, _ in
            try await TestClient.with(address) { client in
                try await client.send(opening)
                let lines = await client.readUntilClosedOrReset()
                #expect(lines == [])
            }
        }
    }

    @Test("an address outside trustedProxies, and silence past the header timeout, are closed without a greeting")
    func untrustedAndSilent() async throws {
        try await withProxyServer(trusted: ["192.0.2.0/24"]) { address, _, _ in
            try await TestClient.with(address) { client in
                try await client.send("PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\n")
                let lines = await client.readUntilClosedOrReset()
                #expect(lines == [])
            }
        }
        try await withProxyServer(headerTimeout: .milliseconds(200)) { address, _, _ in
            try await TestClient.with(address) { client in
                let lines = await client.readUntilClosedOrReset()
                #expect(lines == [])
            }
        }
    }

    // MARK: - HAProxy

    /// HAProxy in TCP mode on `frontends` (port → server line options), each passing to
    /// `backend` from 127.0.0.2; stopped after `body`.
    func withHAProxy(backend: SocketAddress, frontends: [(port: Int, options: String)], in directory: String,
                     _ body: () async throws -> Void) async throws {
        let haproxy = try External.require("haproxy")
        var config = """
        global
            maxconn 64
        defaults
            mode tcp
            timeout connect 5s
            timeout client 30s
            timeout server 30s

        """
        for (index, frontend) in frontends.enumerated() {
            config += """
            listen relay\(index)
                bind 127.0.0.1:\(frontend.port)
                server mail 127.0.0.1:\(backend.port!) source 127.0.0.2 \(frontend.options)

            """
        }
        let file = directory + "/haproxy.cfg"
        try config.write(toFile: file, atomically: true, encoding: .utf8)
        let check = try await runProcess(haproxy, ["-c", "-f", file])
        #expect(check.status == 0, "\(check.output)")
        let process = try ChildProcess(haproxy, ["-db", "-f", file])
        defer { process.signal(SIGTERM); _ = process.waitUntilExit() }
        for frontend in frontends {
            var ready = false
            for _ in 0..<100 where !ready {
                ready = (try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connect(host: "127.0.0.1", port: frontend.port).get().close().get()) != nil
                if !ready { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(ready, "HAProxy did not listen: \(process.outputText)")
        }
        try await body()
    }

    @Test("HAProxy's send-proxy and send-proxy-v2 in front: the backend sees the client's own address and port; HAProxy's address is the original")
    func haproxy() async throws {
        try await withTemporaryDirectory { directory in
            try await withProxyServer(trusted: ["127.0.0.2"]) { address, _, backend in
                let textPort = try await freeTCPPort(), binaryPort = try await freeTCPPort()
                try await withHAProxy(backend: address, frontends: [(textPort, "send-proxy"), (binaryPort, "send-proxy-v2")],
                                      in: directory) {
                    var clientPorts: [Int] = []
                    for port in [textPort, binaryPort] {
                        try await TestClient.with(try SocketAddress(ipAddress: "127.0.0.1", port: port)) { client in
                            clientPorts.append(try #require(client.channel.localAddress?.port))
                            #expect(try await client.reply() == "220 mx.test ESMTP Letterbox")
                            try await client.command("EHLO c")
                            #expect(try await client.command("MAIL FROM:<a@b.test>") == "250 2.1.0 Ok")
                        }
                    }
                    let states = backend.sessionStates.withLock { $0 }
                    #expect(states.map { $0.remoteAddress?.port } == clientPorts)
                    #expect(states.allSatisfy { $0.remoteAddress?.ipAddress == "127.0.0.1" })
                    #expect(states.map { $0.localAddress?.port } == [textPort, binaryPort])
                    #expect(states.allSatisfy { $0.original?.value.remoteAddress?.ipAddress == "127.0.0.2" })
                    // Straight to the server, from an address it does not trust: closed.
                    try await TestClient.with(address) { client in
                        let lines = await client.readUntilClosedOrReset()
                        #expect(lines == [])
                    }
                }
            }
        }
    }

    @Test("HAProxy in front of an SMTPS listener: the header comes before TLS's handshake")
    func haproxyImplicitTLS() async throws {
        try await withTemporaryDirectory { directory in
            let certificate = try TestCertificate.make(in: directory)
            var configuration = Server.Configuration.test()
            configuration.tls = try certificate.serverContext()
            try await withProxyServer(configuration, endpoint: .tls(host: "127.0.0.1", port: 0), trusted: ["127.0.0.2"]) { address, _, backend in
                let port = try await freeTCPPort()
                try await withHAProxy(backend: address, frontends: [(port, "send-proxy-v2")], in: directory) {
                    try await TestClient.with(try SocketAddress(ipAddress: "127.0.0.1", port: port)) { client in
                        try await StartTLSTests.upgrade(client)
                        #expect(try await client.reply() == "220 mx.test ESMTP Letterbox")
                        try await client.command("EHLO c")
                        #expect(try await client.command("MAIL FROM:<a@b.test>") == "250 2.1.0 Ok")
                    }
                    let state = try #require(backend.sessionStates.withLock { $0.first })
                    #expect(state.remoteAddress?.ipAddress == "127.0.0.1" && state.tls != nil)
                    #expect(state.original?.value.remoteAddress?.ipAddress == "127.0.0.2")
                }
            }
        }
    }
}
