import NIOCore
import NIOSSL
import SMTPCore
import SMTPServer
import Testing
import TestSupport

@Suite("STARTTLS and TLS-on-connect", .timeLimit(.minutes(1)))
struct StartTLSTests {
    func configuration(_ certificate: TestCertificate) throws -> Server.Configuration {
        var configuration = Server.Configuration.test(ServerConfiguration(hostname: "mx.test", authMechanisms: ["PLAIN"],
                                                                          startTLSAvailable: true, enableREQUIRETLS: true))
        configuration.tls = try certificate.serverContext()
        return configuration
    }

    static func upgrade(_ client: TestClient) async throws {
        let context = try TestCertificate.clientContext()
        let channel = client.channel
        try await channel.eventLoop.submit {
            let handler = try NIOSSLClientHandler(context: context, serverHostname: "mx.test")
            try channel.pipeline.syncOperations.addHandler(handler, position: .first)
        }.get()
    }

    @Test("STARTTLS upgrades, resets the session, and discards injected plaintext")
    func upgradeAndInjection() async throws {
        try await withTemporaryDirectory { directory in
            let certificate = try TestCertificate.make(in: directory)
            try await withServer(try configuration(certificate)) { address, recorder, server in
                try await TestClient.with(address) { client in
                    try await client.reply()
                    try await client.line("EHLO c")
                    let before = try await client.readReply()
                    #expect(before.contains("250-STARTTLS"))
                    #expect(!before.contains { $0.contains("AUTH") || $0.contains("REQUIRETLS") })
                    // Plaintext pipelined behind STARTTLS must never be executed (CVE-2011-0411).
                    try await client.send("STARTTLS\r\nMAIL FROM:<evil@b.test>\r\nNOOP\r\n")
                    #expect(try await client.reply() == "220 2.0.0 Ready to start TLS")
                    #expect(client.pendingBytes == 0)
                    try await Self.upgrade(client)
                    try await client.line("EHLO c")
                    let after = try await client.readReply()
                    #expect(after.first == "250-mx.test")
                    #expect(!after.contains("250-STARTTLS"))
                    #expect(after.contains("250-AUTH PLAIN LOGIN"))
                    #expect(after.contains("250-REQUIRETLS"))
                    #expect(server.connections.first?.tlsConnectionState?.protocolVersion == "TLSv1.3")
                    #expect(server.connections.first?.state.hostname == "c")
                    #expect(try await client.command("RCPT TO:<c@d.test>") == "503 5.5.1 Error: need MAIL command")
                    #expect(try await client.command("STARTTLS") == "554 5.5.1 Error: TLS already active")
                    #expect(try await client.command("MAIL FROM:<a@b.test> REQUIRETLS") == "250 2.1.0 Ok")
                    try await client.command("RCPT TO:<c@d.test>")
                    try await client.command("DATA")
                    try await client.send("over TLS\r\n.\r\n")
                    #expect(try await client.reply() == "250 2.0.0 Ok: queued")
                }
                #expect(recorder.messages.map(\.body) == ["over TLS\r\n"])
                #expect(recorder.messages.first?.mailOptions.requireTLS == true)
            }
        }
    }

    @Test("TLS from the first byte (SMTPS)")
    func implicitTLS() async throws {
        try await withTemporaryDirectory { directory in
            let certificate = try TestCertificate.make(in: directory)
            let configuration = try configuration(certificate)
            try await withServer(configuration, endpoint: .tls(host: "127.0.0.1", port: 0)) { address, _, _ in
                try await TestClient.with(address) { client in
                    try await Self.upgrade(client)
                    #expect(try await client.reply() == "220 mx.test ESMTP Letterbox")
                    try await client.line("EHLO c")
                    let capabilities = try await client.readReply()
                    #expect(!capabilities.contains("250-STARTTLS"))
                    #expect(capabilities.contains("250-AUTH PLAIN LOGIN"))
                }
            }
        }
    }

    @Test("an SMTPS connection whose handshake never happens is cut off at the handshake deadline, not the read timeout")
    func implicitHandshakeTimeout() async throws {
        try await withTemporaryDirectory { directory in
            let certificate = try TestCertificate.make(in: directory)
            var configuration = try configuration(certificate)
            // 10 s: a handshake on a loaded 2-core machine can take seconds (see below).
            configuration.tlsHandshakeTimeout = .seconds(10)
            configuration.readTimeout = .seconds(120)
            try await withServer(configuration, endpoint: .tls(host: "127.0.0.1", port: 0)) { address, _, _ in
                try await TestClient.with(address) { client in
                    let start = ContinuousClock.now
                    // No ClientHello: closed after the handshake deadline, long before the read timeout.
                    let received = try await client.readUntilClosed()
                    #expect(received.isEmpty)
                    #expect(ContinuousClock.now - start < .seconds(60))
                }
                // A handshake that completes is not cut off by that deadline.
                try await TestClient.with(address) { client in
                    try await Self.upgrade(client)
                    #expect(try await client.reply() == "220 mx.test ESMTP Letterbox")
                    try await Task.sleep(for: .milliseconds(10_500))
                    #expect(try await client.command("NOOP") == "250 2.0.0 Ok")
                }
            }
        }
    }

    @Test("a STARTTLS handshake that never happens is cut off; one that completes is not")
    func handshakeTimeout() async throws {
        try await withTemporaryDirectory { directory in
            let certificate = try TestCertificate.make(in: directory)
            var configuration = try configuration(certificate)
            // Long enough for a handshake on a loaded 2-core machine (the whole suite runs in
            // parallel, the crash, operator and pipe tests included: a fresh-clone CI run saw a
            // handshake cut off at 4 s); the second connection outlives it.
            configuration.tlsHandshakeTimeout = .seconds(10)
            try await withServer(configuration) { address, _, _ in
                try await TestClient.with(address) { client in
                    try await client.reply()
                    try await client.command("EHLO c")
                    #expect(try await client.command("STARTTLS") == "220 2.0.0 Ready to start TLS")
                    // No ClientHello: the server closes the connection.
                    #expect(try await client.readUntilClosed().isEmpty)
                }
                try await TestClient.with(address) { client in
                    try await client.reply()
                    try await client.command("EHLO c")
                    try await client.command("STARTTLS")
                    try await Self.upgrade(client)
                    try await client.line("EHLO c")
                    _ = try await client.readReply()
                    try await Task.sleep(for: .milliseconds(10_500))
                    #expect(try await client.command("NOOP") == "250 2.0.0 Ok")
                }
            }
        }
    }
}
