import SASL
import Testing

@Suite("SASL client mechanisms")
struct SASLClientTests {
    static func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    @Test("PLAIN sends authzid NUL authcid NUL password at once, again on an empty challenge")
    func plain() throws {
        var mechanism = PlainClient(username: "user", password: "secret")
        #expect(mechanism.name == "PLAIN")
        #expect(Self.text(try mechanism.start()) == "\0user\0secret")
        #expect(Self.text(try mechanism.respond(to: [])) == "\0user\0secret")
        #expect(throws: SASLClientError.unexpectedChallenge(mechanism: "PLAIN")) { try mechanism.respond(to: Array("x".utf8)) }
        var acting = PlainClient(authorizationIdentity: "admin", username: "user", password: "secret")
        #expect(Self.text(try acting.start()) == "admin\0user\0secret")
        var broken = PlainClient(username: "user", password: "se\0cret")
        #expect(throws: SASLClientError.self) { try broken.start() }
    }

    @Test("LOGIN answers the user name, then the password, then nothing more")
    func login() throws {
        var mechanism = LoginClient(username: "user", password: "secret")
        #expect(try mechanism.start() == nil)
        #expect(Self.text(try mechanism.respond(to: Array("Username:".utf8))) == "user")
        #expect(Self.text(try mechanism.respond(to: Array("Password:".utf8))) == "secret")
        #expect(throws: SASLClientError.self) { try mechanism.respond(to: []) }
    }

    /// RFC 2195 §2's example, RFC 2202's HMAC-MD5 test cases 1 and 2, and keys and challenges
    /// longer than MD5's block (checked against Python's hmac module).
    static let cramVectors: [(password: String, challenge: String, digest: String)] = [
        ("tanstaaftanstaaf", "<1896.697170952@postoffice.reston.mci.net>", "b913a602c7eda7a495b4e6e7334d3890"),
        (String(repeating: "\u{0b}", count: 16), "Hi There", "9294727a3638bb1c13f48ef8158bfc9d"),
        ("Jefe", "what do ya want for nothing?", "750c783e6ab0b503eaa86e310a5db738"),
        (String(repeating: "k", count: 100), "<" + String(repeating: "x", count: 200) + ">", "a53e2c4f6cb4407fc925ecabb17ea299"),
        ("", "", "74e6f7298a9c2d168935f58c001bad88"),
    ]

    @Test("CRAM-MD5 answers user and HMAC-MD5 digest", arguments: cramVectors)
    func cramMD5(vector: (password: String, challenge: String, digest: String)) throws {
        var mechanism = CRAMMD5Client(username: "tim", password: vector.password)
        #expect(try mechanism.start() == nil)
        #expect(Self.text(try mechanism.respond(to: Array(vector.challenge.utf8))) == "tim " + vector.digest)
        #expect(throws: SASLClientError.self) { try mechanism.respond(to: []) }
    }

    @Test("XOAUTH2 sends user and bearer token; a JSON error is answered with an empty response")
    func xoauth2() throws {
        var mechanism = XOAuth2Client(username: "someuser@example.com", token: "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")
        #expect(Self.text(try mechanism.start())
                == "user=someuser@example.com\u{1}auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\u{1}\u{1}")
        let error = #"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#
        #expect(try mechanism.respond(to: Array(error.utf8)) == [])
        #expect(mechanism.serverError == error)
        #expect(throws: SASLClientError.self) { try mechanism.respond(to: []) }
    }

    @Test("OAUTHBEARER follows RFC 7628 §4.1, escapes the GS2 name, answers an error with ^A")
    func oauthBearer() throws {
        // RFC 7628 §4.1's example (its host and port fields included).
        var mechanism = OAuthBearerClient(username: "user@example.com", token: "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
                                          host: "server.example.com", port: 143)
        #expect(Self.text(try mechanism.start())
                == "n,a=user@example.com,\u{1}host=server.example.com\u{1}port=143\u{1}auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\u{1}\u{1}")
        #expect(try mechanism.respond(to: Array(#"{"status":"invalid_token"}"#.utf8)) == [1])
        #expect(mechanism.serverError == #"{"status":"invalid_token"}"#)
        var odd = OAuthBearerClient(username: "a,b=c", token: "t")
        #expect(Self.text(try odd.start()) == "n,a=a=2Cb=3Dc,\u{1}auth=Bearer t\u{1}\u{1}")
        var anonymous = OAuthBearerClient(username: nil, token: "t")
        #expect(Self.text(try anonymous.start()) == "n,,\u{1}auth=Bearer t\u{1}\u{1}")
    }

    @Test("EXTERNAL and ANONYMOUS send their identity or trace, empty when none")
    func externalAndAnonymous() throws {
        var external = ExternalClient()
        #expect(try external.start() == [])
        var acting = ExternalClient(authorizationIdentity: "admin")
        #expect(Self.text(try acting.start()) == "admin")
        #expect(Self.text(try acting.respond(to: [])) == "admin")
        #expect(throws: SASLClientError.self) { try acting.respond(to: []) }
        var anonymous = AnonymousClient(trace: "sirhc")
        #expect(Self.text(try anonymous.start()) == "sirhc")
        var long = AnonymousClient(trace: String(repeating: "x", count: 256))
        #expect(throws: SASLClientError.self) { try long.start() }
    }
}
