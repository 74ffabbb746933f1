import NIOCore
import NIOSSL
import SASL
import SMTPClient
import SMTPCore
import SMTPServer
import Testing
import TestSupport

/// A test-only CRAM-MD5 server with RFC 2195's example challenge: the expected answer for
/// user `tim`, password `tanstaaftanstaaf` is the RFC's own.
struct CRAMMD5ExampleServer: SASLServerMechanism {
    let context: AuthenticationContext
    var challenged = false

    mutating func next(_ response: [UInt8]?) async throws -> SASLServerStep {
        guard challenged else {
            challenged = true
            return .challenge(Array("<1896.697170952@postoffice.reston.mci.net>".utf8))
        }
        guard response == Array("tim b913a602c7eda7a495b4e6e7334d3890".utf8) else { throw SASLError.authenticationFailed }
        context.session = try await context.backend.anonymousLogin(state: context.state, sessionID: context.state.sessionID)
        return .success
    }
}

/// A server that refuses every token the XOAUTH2 way: a JSON error as a challenge, then 535.
struct RefusingXOAuth2Server: SASLServerMechanism {
    var challenged = false

    mutating func next(_ response: [UInt8]?) async throws -> SASLServerStep {
        guard challenged else {
            challenged = true
            return .challenge(Array(#"{"status":"401","schemes":"bearer"}"#.utf8))
        }
        throw SASLError.authenticationFailed
    }
}

/// A server mechanism that sends a challenge PLAIN cannot answer.
struct ChallengingServer: SASLServerMechanism {
    mutating func next(_ response: [UInt8]?) async throws -> SASLServerStep {
        .challenge(Array("unexpected".utf8))
    }
}

/// A server mechanism that accepts exactly one initial response: checks what a client
/// mechanism sends, byte for byte, through a real exchange.
struct ExpectingServer: SASLServerMechanism {
    let context: AuthenticationContext
    let expected: [UInt8]

    mutating func next(_ response: [UInt8]?) async throws -> SASLServerStep {
        guard response == expected else { throw SASLError.authenticationFailed }
        context.session = try await context.backend.anonymousLogin(state: context.state, sessionID: context.state.sessionID)
        return .success
    }
}

@Suite("Client STARTTLS and AUTH", .timeLimit(.minutes(1)))
struct ClientSecurityTests {
    static func serverConfiguration(_ certificate: TestCertificate) throws -> Server.Configuration {
        var configuration = Server.Configuration.test(ServerConfiguration(hostname: "mx.test", startTLSAvailable: true,
                                                                          enableREQUIRETLS: true))
        configuration.tls = try certificate.serverContext()
        return configuration
    }

    /// A client that trusts the test's certificate and checks the name mx.test.
    static func clientConfiguration(_ certificate: TestCertificate, trace: Trace? = nil) -> Client.Configuration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates([certificate.certificate])
        var configuration = Client.Configuration(localName: "client.test", tls: tls, trace: trace?.record)
        configuration.tlsServerName = "mx.test"
        return configuration
    }

    @Test("STARTTLS verifies the certificate, greets again and unlocks AUTH and REQUIRETLS")
    func startTLS() async throws {
        try await withTemporaryDirectory { directory in
            let certificate = try TestCertificate.make(in: directory)
            try await withServer(try Self.serverConfiguration(certificate)) { address, recorder, _ in
                let client = try await Client.connect(to: .tcp(host: "127.0.0.1", port: address.port!),
                                                      configuration: Self.clientConfiguration(certificate))
                #expect(try await client.extension("AUTH") == nil)
                #expect(client.tlsConnectionState == nil)
                try await client.startTLS()
                #expect(client.tlsConnectionState?.protocolVersion == "TLSv1.3")
                #expect(client.tlsConnectionState?.peerCertificatePresented == true)
                #expect(try await client.extension("STARTTLS") == nil)
                #expect(try await client.supportsAuth("PLAIN"))
                try await client.auth(PlainClient(username: "user", password: "secret"))
                try await client.mail(from: "a@b.test", options: MailOptions(requireTLS: true, auth: "alice+1@b.test"))
                try await client.rcpt(to: "c@d.test")
                let writer = try await client.data()
                try await writer.write("secret\r\n")
                try await writer.finish()
                try await client.quit()
                #expect(recorder.logins == ["user"])
                #expect(recorder.messages.first?.mailOptions.requireTLS == true)
                #expect(recorder.messages.first?.mailOptions.auth == "alice+1@b.test")   // AUTH= goes as xtext
            }
        }
    }

    @Test("a certificate for another name fails the handshake")
    func wrongName() async throws {
        try await withTemporaryDirectory { directory in
            let certificate = try TestCertificate.make(in: directory, commonName: "other.test")
            try await withServer(try Self.serverConfiguration(certificate)) { address, _, _ in
                let client = try await Client.connect(to: .tcp(host: "127.0.0.1", port: address.port!),
                                                      configuration: Self.clientConfiguration(certificate))
                await #expect(throws: (any Error).self) { try await client.startTLS() }
                #expect(client.tlsConnectionState == nil)
                await client.close()
            }
        }
    }

    @Test("TLS from the first byte")
    func implicitTLS() async throws {
        try await withTemporaryDirectory { directory in
            let certificate = try TestCertificate.make(in: directory)
            var configuration = try Self.serverConfiguration(certificate)
            configuration.session.allowInsecureAuth = false
            try await withServer(configuration, endpoint: .tls(host: "127.0.0.1", port: 0)) { address, _, _ in
                let client = try await Client.connect(to: .tls(host: "127.0.0.1", port: address.port!),
                                                      configuration: Self.clientConfiguration(certificate))
                #expect(client.tlsConnectionState != nil)
                #expect(try await client.supportsAuth("LOGIN"))
                try await client.auth(LoginClient(username: "user", password: "secret"))
                try await client.quit()
            }
        }
    }

    @Test("AUTH: wrong password is the server's 535; CRAM-MD5, XOAUTH2 refusals and cancellation keep the session usable")
    func authentication() async throws {
        let trace = Trace()
        let configuration = Server.Configuration.test(ServerConfiguration(hostname: "mx.test", allowInsecureAuth: true))
        try await withServer(configuration) { address, recorder, server in
            server.enableAuth(name: "CRAM-MD5") { CRAMMD5ExampleServer(context: $0) }
            server.enableAuth(name: "XOAUTH2") { _ in RefusingXOAuth2Server() }
            server.enableAuth(name: "X-CHALLENGE") { _ in ChallengingServer() }
            let client = try await Client.connect(to: .tcp(host: "127.0.0.1", port: address.port!),
                                                  configuration: Client.Configuration(trace: trace.record))
            await #expect(throws: SMTPError(code: 535, enhancedCode: EnhancedCode(5, 7, 8), message: "Authentication credentials invalid")) {
                try await client.auth(PlainClient(username: "user", password: "wrong"))
            }
            await #expect(throws: SMTPError.self) { try await client.auth(XOAuth2Client(username: "user", token: "expired")) }
            await #expect(throws: SMTPClientError.extensionNotSupported("AUTH EXTERNAL")) { try await client.auth(ExternalClient()) }
            // A mechanism that cannot answer cancels with "*" and the server says 501.
            struct PlainAs: SASLClientMechanism {
                var inner = PlainClient(username: "user", password: "secret")
                let name = "X-CHALLENGE"
                mutating func start() throws(SASLClientError) -> [UInt8]? { nil }
                mutating func respond(to challenge: [UInt8]) throws(SASLClientError) -> [UInt8] { try inner.respond(to: challenge) }
            }
            await #expect(throws: SASLClientError.unexpectedChallenge(mechanism: "PLAIN")) { try await client.auth(PlainAs()) }
            try await client.auth(CRAMMD5Client(username: "tim", password: "tanstaaftanstaaf"))
            try await client.noop()
            try await client.quit()
            #expect(recorder.logins.isEmpty)   // CRAM-MD5's session came from anonymousLogin
            #expect(trace.lines.contains("C: *"))
            #expect(!trace.lines.contains { $0.contains(Base64.encode(Array("\0user\0wrong".utf8))) })
            #expect(trace.lines.contains("C: AUTH PLAIN ***"))
        }
    }

    @Test("XOAUTH2, OAUTHBEARER, EXTERNAL and ANONYMOUS succeed against servers that expect their exact messages")
    func tokenMechanisms() async throws {
        let configuration = Server.Configuration.test(ServerConfiguration(hostname: "mx.test", allowInsecureAuth: true))
        try await withServer(configuration) { address, _, server in
            server.enableAuth(name: "XOAUTH2") { ExpectingServer(context: $0, expected: Array("user=u@x.test\u{1}auth=Bearer tok\u{1}\u{1}".utf8)) }
            server.enableAuth(name: "OAUTHBEARER") {
                ExpectingServer(context: $0, expected: Array("n,a=u@x.test,\u{1}host=mx.test\u{1}port=25\u{1}auth=Bearer tok\u{1}\u{1}".utf8))
            }
            server.enableAuth(name: "EXTERNAL") { ExpectingServer(context: $0, expected: []) }
            server.enableAuth(name: "ANONYMOUS") { ExpectingServer(context: $0, expected: Array("tracer".utf8)) }
            let mechanisms: [any SASLClientMechanism] = [
                XOAuth2Client(username: "u@x.test", token: "tok"),
                OAuthBearerClient(username: "u@x.test", token: "tok", host: "mx.test", port: 25),
                ExternalClient(),
                AnonymousClient(trace: "tracer"),
            ]
            for mechanism in mechanisms {
                let client = try await Client.connect(to: .tcp(host: "127.0.0.1", port: address.port!))
                try await client.auth(mechanism)
                try await client.quit()
            }
        }
    }

    @Test("sendMail: opportunistic STARTTLS and AUTH in one call; required TLS never falls back")
    func sendMail() async throws {
        try await withTemporaryDirectory { directory in
            let certificate = try TestCertificate.make(in: directory)
            try await withServer(try Self.serverConfiguration(certificate)) { address, recorder, _ in
                let statuses = try await Client.sendMail(
                    to: .tcp(host: "127.0.0.1", port: address.port!),
                    configuration: Self.clientConfiguration(certificate), tls: .required,
                    auth: PlainClient(username: "user", password: "secret"),
                    from: .mailbox(Address("a@b.test")!), to: [Address("c@d.test")!, Address("e@d.test")!],
                    message: ByteBuffer(string: "Subject: x\n\nhello\n"))
                #expect(statuses.map(\.accepted) == [true, true])
                #expect(recorder.logins == ["user"])
                #expect(recorder.messages.first?.body == "Subject: x\r\n\r\nhello\r\n")
                #expect(recorder.messages.first?.mailOptions.size == 21)   // 18 octets, 3 bare LFs counted as CRLF
            }
        }
        try await withServer { address, recorder, _ in
            await #expect(throws: SMTPClientError.tlsRequired) {
                try await Client.sendMail(to: .tcp(host: "127.0.0.1", port: address.port!), tls: .required,
                                          from: .null, to: [Address("c@d.test")!], message: ByteBuffer(string: "x\r\n"))
            }
            #expect(recorder.messages.isEmpty)
        }
    }
}
