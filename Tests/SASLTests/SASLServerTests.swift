import Testing
import SASL

actor Seen {
    var credentials: [SASLPasswordCredentials] = []
    func add(_ value: SASLPasswordCredentials) { credentials.append(value) }
}

@Suite("SASL server mechanisms")
struct SASLServerTests {
    static func verifier(_ seen: Seen) -> SASLPasswordVerifier {
        { credentials in
            await seen.add(credentials)
            guard credentials.password == "secret" else { throw SASLError.authenticationFailed }
        }
    }

    @Test("PLAIN with an initial response")
    func plainInitial() async throws {
        let seen = Seen()
        var plain = PlainServer(verify: Self.verifier(seen))
        #expect(try await plain.next(Array("admin\0user\0secret".utf8)) == .success)
        #expect(await seen.credentials == [SASLPasswordCredentials(authorizationIdentity: "admin", username: "user", password: "secret")])
    }

    @Test("PLAIN without an initial response gets an empty challenge first")
    func plainChallenge() async throws {
        let seen = Seen()
        var plain = PlainServer(verify: Self.verifier(seen))
        #expect(try await plain.next(nil) == .challenge([]))
        #expect(try await plain.next(Array("\0user\0secret".utf8)) == .success)
        #expect(await seen.credentials.first?.authorizationIdentity == nil)
    }

    @Test("PLAIN refuses malformed messages", arguments: ["user\0secret", "\0\0secret", "\0user\0", "a\0b\0c\0d"])
    func plainMalformed(message: String) async {
        var plain = PlainServer(verify: { _ in })
        await #expect(throws: SASLError.self) { _ = try await plain.next(Array(message.utf8)) }
    }

    @Test("PLAIN passes the verifier's refusal on")
    func plainRefused() async {
        var plain = PlainServer(verify: Self.verifier(Seen()))
        await #expect(throws: SASLError.authenticationFailed) { _ = try await plain.next(Array("\0user\0wrong".utf8)) }
    }

    @Test("LOGIN asks for user name and password")
    func login() async throws {
        let seen = Seen()
        var login = LoginServer(verify: Self.verifier(seen))
        #expect(try await login.next(nil) == .challenge(Array("Username:".utf8)))
        #expect(try await login.next(Array("user".utf8)) == .challenge(Array("Password:".utf8)))
        #expect(try await login.next(Array("secret".utf8)) == .success)
        #expect(await seen.credentials == [SASLPasswordCredentials(username: "user", password: "secret")])
    }

    @Test("LOGIN takes an initial response as the user name")
    func loginInitial() async throws {
        var login = LoginServer(verify: Self.verifier(Seen()))
        #expect(try await login.next(Array("user".utf8)) == .challenge(Array("Password:".utf8)))
        #expect(try await login.next(Array("secret".utf8)) == .success)
    }

    @Test("LOGIN refuses empty answers")
    func loginEmpty() async throws {
        var login = LoginServer(verify: Self.verifier(Seen()))
        _ = try await login.next(nil)
        await #expect(throws: SASLError.self) { _ = try await login.next([]) }
    }
}
