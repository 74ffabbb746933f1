@testable import LocalDelivery
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
        #expect(users.users["alice@example.org"]?.quota == 2 << 30)
        #expect(users.users["bob@example.org"] != nil && users.users["bob@example.org"]?.quota == nil)
        #expect(users.users["carol@example.org"] == nil)
        #expect(throws: UserDirectory.ParseError([.init(line: 2, message: "unknown setting colour=blue")])) {
            try UserDirectory(parsing: "a@b.test\nc@d.test colour=blue\n")
        }
        // Every bad line is named, not only the first.
        #expect(throws: UserDirectory.ParseError([.init(line: 1, message: "nobody is not an address"),
                                                  .init(line: 3, message: "unknown setting quota=lots")])) {
            try UserDirectory(parsing: "nobody\na@b.test\nc@d.test quota=lots\n")
        }
        #expect(throws: UserDirectory.ParseError.self) { try UserDirectory(parsing: "not-an-address\n") }
        #expect(UserDirectory.size("500M") == 500 << 20 && UserDirectory.size("1024") == 1024 && UserDirectory.size("x") == nil)
    }

    /// RFC 5322 §3.6.4 and §2.2.3: the first Message-ID field in the header section, in any
    /// case, unfolded and trimmed; nothing from the body; the header fed in any pieces.
    @Test("the Message-ID is found in the header however the message is split", arguments: [1, 2, 3, 7, 1_000])
    func messageID(pieceSize: Int) {
        func scan(_ text: String) -> String? {
            var scanner = HeaderScanner()
            let bytes = Array(text.utf8)
            for start in stride(from: 0, to: bytes.count, by: pieceSize) {
                bytes[start..<min(start + pieceSize, bytes.count)].withUnsafeBytes { scanner.feed($0) }
            }
            return scanner.messageID
        }
        #expect(scan("Subject: a\r\nMessage-ID: <a@b.test>\r\n\r\nbody\r\n") == "<a@b.test>")
        #expect(scan("message-id:<lower@b.test>\r\n\r\n") == "<lower@b.test>")
        #expect(scan("MESSAGE-ID \t:  <spaced@b.test> \t\r\nTo: c@d.test\r\n\r\n") == "<spaced@b.test>")
        #expect(scan("Message-ID:\r\n <folded@b.test>\r\nSubject: x\r\n\r\n") == "<folded@b.test>")
        #expect(scan("Message-ID: <first@b.test>\r\nMessage-ID: <second@b.test>\r\n\r\n") == "<first@b.test>")
        #expect(scan("Subject: none\r\n\r\nMessage-ID: <in-body@b.test>\r\n") == nil)
        #expect(scan("Subject: none\n\nMessage-ID: <in-body@b.test>\n") == nil)
        #expect(scan("X-Message-ID: <other@b.test>\r\nMessage-IDs: <x@b.test>\r\n\r\n") == nil)
        #expect(scan("Message-ID:   \r\n\r\n") == nil)
        #expect(scan("Message-ID: <lf@b.test>\nSubject: x\n\n") == "<lf@b.test>")
        #expect(scan("Message-ID: <no-body@b.test>") == "<no-body@b.test>")
        #expect(scan("") == nil)
    }

    @Test("the mailbox template: %u, %d and %n put in once, other % kept")
    func mailboxTemplate() {
        func expand(_ template: String) -> String {
            MailboxTemplate.expand(template, user: "bob@example.org", domain: "example.org", name: "b%nob")
        }
        #expect(expand("%d/%n") == "example.org/b%nob")
        #expect(expand("users/%u/Maildir") == "users/bob@example.org/Maildir")
        #expect(expand("%n%n") == "b%nobb%nob")
        #expect(expand("100%/%x%") == "100%/%x%")
        #expect(expand("") == "" && expand("plain") == "plain")
    }

    @Test("a mailbox template that names an unknown escape or could leave the mail root is refused")
    func mailboxTemplateCheck() throws {
        for good in ["%d/%n", "users/%u/Maildir", "%d/%n/Maildir/", "plain"] {
            try MailboxTemplate.check(good)
        }
        let refused: [(String, String)] = [
            ("%d/%x", "unknown escape %x"), ("%n%", "unknown escape a lone %"), ("100%%", "unknown escape %%"),
            ("/var/mail/%n", "must be relative"), ("../%n", "every part"), ("%d/../../etc", "every part"),
            ("%d//%n", "every part"), ("%d/./%n", "every part"), ("", "every part"), (".hidden/%n", "every part"),
        ]
        for (template, reason) in refused {
            #expect(throws: MailboxTemplate.Problem.self, "\(template)") { try MailboxTemplate.check(template) }
            do {
                try MailboxTemplate.check(template)
            } catch {
                #expect(error.description.contains(reason), "\(template): \(error)")
            }
        }
    }
}

@Suite("Users from a table: the query's parameters, the mailbox it gives, the cache")
struct UserTableUnitTests {
    @Test("the parameters a users query uses are the $n outside quoted text")
    func parameters() {
        #expect(PostgresUsers.parameters(in: "SELECT 1 FROM u WHERE address = $1 AND domain = $3") == [1, 3])
        #expect(PostgresUsers.parameters(in: "SELECT '$2' AS \"$5\" FROM u WHERE a = $1") == [1])
        #expect(PostgresUsers.parameters(in: "SELECT 1") == [])
    }

    @Test("a mailbox from the table stays under the mail root, or is refused")
    func mailbox() {
        #expect(RecipientResolver.underMailRoot("shared/bob", root: "/srv/mail") == "shared/bob")
        #expect(RecipientResolver.underMailRoot("/srv/mail/x/bob/", root: "/srv/mail") == "x/bob")
        #expect(RecipientResolver.underMailRoot("/srv/mailx/bob", root: "/srv/mail") == nil)
        #expect(RecipientResolver.underMailRoot("../etc", root: "/srv/mail") == nil)
        #expect(RecipientResolver.underMailRoot("a//b", root: "/srv/mail") == nil)
        #expect(RecipientResolver.underMailRoot("", root: "/srv/mail") == nil)
        #expect(RecipientResolver.underMailRoot("a/.hidden", root: "/srv/mail") == nil)
    }

    @Test("the cache keeps answers (a user, no user) for its lifetime and never more than its capacity")
    func cache() async throws {
        let cache = UserCache(lifetime: .milliseconds(200), capacity: 3)
        #expect(cache.answer(for: "a@x") == nil)
        cache.remember(LocalUser(address: "a@x", quota: 5), for: "a@x")
        cache.remember(nil, for: "b@x")
        #expect(cache.answer(for: "a@x") == .some(LocalUser(address: "a@x", quota: 5)))
        #expect(cache.answer(for: "b@x") == .some(nil))
        cache.remember(nil, for: "c@x")
        cache.remember(nil, for: "d@x")   // full: starts again
        #expect(cache.answer(for: "d@x") == .some(nil))
        #expect(cache.answer(for: "a@x") == nil)
        try await Task.sleep(for: .milliseconds(300))
        #expect(cache.answer(for: "d@x") == nil)
        let off = UserCache(lifetime: .zero)
        off.remember(nil, for: "a@x")
        #expect(off.answer(for: "a@x") == nil)
    }
}
