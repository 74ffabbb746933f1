import NIOCore
import SMTPCore
import SMTPServer
import SASL
import Testing
import TestSupport

@Suite("AUTH over a real socket", .timeLimit(.minutes(1)))
struct AuthTests {
    static func configuration(allowInsecure: Bool = true, secureNetworks: [CIDR] = []) -> Server.Configuration {
        var configuration = Server.Configuration.test(ServerConfiguration(hostname: "mx.test", authMechanisms: ["PLAIN", "LOGIN"],
                                                                          allowInsecureAuth: allowInsecure))
        configuration.secureNetworks = secureNetworks
        return configuration
    }

    static let plain = Base64.encode(Array("\0user\0secret".utf8))

    @Test("AUTH PLAIN with an initial response, and a second AUTH refused")
    func plain() async throws {
        try await withServer(Self.configuration()) { address, recorder, _ in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.line("EHLO c")
                #expect(try await client.readReply().contains("250-AUTH PLAIN LOGIN"))
                #expect(try await client.command("AUTH PLAIN \(Self.plain)") == "235 2.7.0 Authentication successful")
                #expect(try await client.command("AUTH PLAIN \(Self.plain)") == "503 5.5.1 Error: already authenticated")
                #expect(try await client.command("MAIL FROM:<user@b.test>") == "250 2.1.0 Ok")
            }
            #expect(recorder.logins == ["user"])
        }
    }

    @Test("AUTH PLAIN with an empty challenge, and wrong credentials")
    func plainChallenge() async throws {
        try await withServer(Self.configuration()) { address, _, _ in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.command("EHLO c")
                #expect(try await client.command("AUTH PLAIN") == "334 ")
                #expect(try await client.command(Base64.encode(Array("\0user\0wrong".utf8))) == "535 5.7.8 Authentication credentials invalid")
                #expect(try await client.command("AUTH PLAIN") == "334 ")
                #expect(try await client.command(Self.plain) == "235 2.7.0 Authentication successful")
            }
        }
    }

    @Test("AUTH brute force: 535 per guess, 421 once the error budget is spent, then the rate limiter refuses new connections")
    func bruteForce() async throws {
        var configuration = Self.configuration()
        configuration.session.maximumErrors = 5
        configuration.rateLimiter = GCRARateLimiter(rate: 1, per: .seconds(60), burst: 2)
        try await withServer(configuration) { address, recorder, _ in
            var guesses = 0
            for _ in 0..<2 {
                try await TestClient.with(address) { client in
                    try await client.reply()
                    try await client.command("EHLO attacker")
                    while true {
                        let reply = try await client.command("AUTH PLAIN " + Base64.encode(Array("\0user\0guess\(guesses)".utf8)))
                        guesses += 1
                        if reply.hasPrefix("535 5.7.8") { continue }
                        #expect(reply.hasPrefix("421 4.7.0"), "\(reply)")
                        break
                    }
                    #expect(try await client.readUntilClosed().isEmpty)
                }
            }
            #expect(guesses == 12)
            let refused = try await TestClient.with(address) { client in try await client.readUntilClosed() }
            #expect(refused.first?.hasPrefix("421 4.7.28") == true, "\(refused)")
            #expect(recorder.logins.isEmpty)
        }
    }

    @Test("AUTH LOGIN asks for user name and password")
    func login() async throws {
        try await withServer(Self.configuration()) { address, recorder, _ in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.command("EHLO c")
                #expect(try await client.command("AUTH LOGIN") == "334 VXNlcm5hbWU6")
                #expect(try await client.command(Base64.encode(Array("user".utf8))) == "334 UGFzc3dvcmQ6")
                #expect(try await client.command(Base64.encode(Array("secret".utf8))) == "235 2.7.0 Authentication successful")
            }
            #expect(recorder.logins == ["user"])
        }
    }

    @Test("a cancelled exchange and invalid base64 leave the session usable")
    func cancelled() async throws {
        try await withServer(Self.configuration()) { address, _, _ in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.command("EHLO c")
                try await client.command("AUTH LOGIN")
                #expect(try await client.command("*") == "501 5.0.0 Authentication aborted")
                try await client.command("AUTH LOGIN")
                #expect(try await client.command("not base64!") == "501 5.5.2 Invalid base64 data")
                #expect(try await client.command("AUTH PLAIN !!!") == "501 5.5.2 Invalid base64 data")
                #expect(try await client.command("NOOP") == "250 2.0.0 Ok")
                #expect(try await client.command("AUTH PLAIN \(Self.plain)") == "235 2.7.0 Authentication successful")
            }
        }
    }

    @Test("AUTH is neither offered nor accepted on an insecure connection")
    func insecure() async throws {
        try await withServer(Self.configuration(allowInsecure: false)) { address, _, _ in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.line("EHLO c")
                #expect(!(try await client.readReply()).contains { $0.contains("AUTH") })
                #expect(try await client.command("AUTH PLAIN \(Self.plain)") == "538 5.7.11 Encryption required for requested authentication mechanism")
            }
        }
    }

    @Test("AUTH from a secure network without TLS")
    func secureNetwork() async throws {
        try await withServer(Self.configuration(allowInsecure: false, secureNetworks: [CIDR("127.0.0.0/8")!])) { address, _, _ in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.line("EHLO c")
                #expect(try await client.readReply().contains("250-AUTH PLAIN LOGIN"))
                #expect(try await client.command("AUTH PLAIN \(Self.plain)") == "235 2.7.0 Authentication successful")
            }
        }
    }

    @Test("CIDR matching")
    func cidr() throws {
        let v4 = try #require(CIDR("192.0.2.0/24"))
        #expect(v4.contains(try SocketAddress(ipAddress: "192.0.2.77", port: 1)))
        #expect(!v4.contains(try SocketAddress(ipAddress: "192.0.3.1", port: 1)))
        #expect(v4.contains(try SocketAddress(ipAddress: "::ffff:192.0.2.5", port: 1)))
        let v6 = try #require(CIDR("2001:db8::/32"))
        #expect(v6.contains(try SocketAddress(ipAddress: "2001:db8:1::1", port: 1)))
        #expect(!v6.contains(try SocketAddress(ipAddress: "2001:db9::1", port: 1)))
        #expect(CIDR("10.0.0.0/33") == nil)
        #expect(CIDR("nonsense") == nil)
        #expect(CIDR("10.1.2.3")?.contains(try SocketAddress(ipAddress: "10.1.2.3", port: 9)) == true)
    }
}

/// A made-up mechanism for the test: one challenge, and the answer must be `open sesame`.
struct SesameServer: SASLServerMechanism {
    let context: AuthenticationContext
    var asked = false

    mutating func next(_ response: [UInt8]?) async throws -> SASLServerStep {
        guard asked else {
            asked = true
            return .challenge(Array("password?".utf8))
        }
        guard response == Array("open sesame".utf8) else { throw SASLError.authenticationFailed }
        context.session = try await context.backend.anonymousLogin(state: context.state, sessionID: context.state.sessionID)
        return .success
    }
}

@Suite("Pluggable SASL mechanisms", .timeLimit(.minutes(1)))
struct PluggableAuthTests {
    @Test("a mechanism added with enableAuth is announced and used")
    func custom() async throws {
        let configuration = Server.Configuration.test(ServerConfiguration(hostname: "mx.test", allowInsecureAuth: true))
        try await withServer(configuration) { address, _, server in
            server.enableAuth(name: "x-sesame") { SesameServer(context: $0) }
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.line("EHLO c")
                #expect(try await client.readReply().contains("250-AUTH PLAIN LOGIN X-SESAME"))
                #expect(try await client.command("AUTH X-SESAME") == "334 cGFzc3dvcmQ/")
                #expect(try await client.command(Base64.encode(Array("wrong".utf8))) == "535 5.7.8 Authentication credentials invalid")
                try await client.command("AUTH X-SESAME")
                #expect(try await client.command(Base64.encode(Array("open sesame".utf8))) == "235 2.7.0 Authentication successful")
            }
        }
    }
}
