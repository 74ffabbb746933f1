import LocalDelivery
import Testing

@Suite("Delivery agent building blocks")
struct LocalDeliveryUnitTests {
    /// FIPS 180-2 Appendix B's examples, the empty message, and a message fed in odd pieces.
    @Test("SHA-256 matches the standard's vectors, however the input is split")
    func sha256() {
        func digest(_ text: String, pieces: Int = 1) -> String {
            var hash = BodyHash()
            let bytes = Array(text.utf8)
            let size = max(1, bytes.count / pieces)
            for start in stride(from: 0, to: bytes.count, by: size) { hash.update(Array(bytes[start..<min(start + size, bytes.count)])) }
            return hash.finalize()
        }
        #expect(digest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let twoBlocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        #expect(digest(twoBlocks) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(digest(twoBlocks, pieces: 7) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(digest(String(repeating: "a", count: 1_000_000), pieces: 13)
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("the users file: addresses lower-cased, quotas with units, comments, CRLF, errors with line numbers")
    func usersFile() throws {
        let users = try UserDirectory(parsing: "Alice@Example.org quota=2G\r\n# comment\r\n\r\nbob@example.org   # trailing comment\r\n")
        #expect(users.user("alice@example.org")?.quota == 2 << 30)
        #expect(users.user("BOB@example.org") != nil && users.user("bob@example.org")?.quota == nil)
        #expect(users.user("carol@example.org") == nil)
        #expect(throws: UserDirectory.ParseError(line: 2, message: "unknown setting colour=blue")) {
            try UserDirectory(parsing: "a@b.test\nc@d.test colour=blue\n")
        }
        #expect(throws: UserDirectory.ParseError.self) { try UserDirectory(parsing: "not-an-address\n") }
        #expect(UserDirectory.size("500M") == 500 << 20 && UserDirectory.size("1024") == 1024 && UserDirectory.size("x") == nil)
    }
}
