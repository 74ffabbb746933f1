import NIOCore
import Testing
@testable import SMTPCore

@Suite("Command grammar")
struct CommandParserTests {
    static let parser = CommandParser()
    static let strictParser = CommandParser(strict: true)

    static func addr(_ local: String, _ domain: String) -> Address { Address(localPart: local, domain: domain) }

    static let valid: [(String, Command)] = [
        ("HELO mx.example.org", .helo(domain: "mx.example.org")),
        ("helo mx", .helo(domain: "mx")),
        ("EHLO [192.0.2.1]", .ehlo(domain: "[192.0.2.1]")),
        ("eHlO client.example", .ehlo(domain: "client.example")),
        ("LHLO localhost", .lhlo(domain: "localhost")),
        ("EHLO  spaced ", .ehlo(domain: "spaced")),
        ("StartTls", .startTLS),
        ("DATA \t ", .data),
        ("xClient NAME=x", .xclient([XClientAttribute(name: .name, value: .value("x"))])),
        ("MAIL FROM:<a@b.example>\t", .mail(from: .mailbox(addr("a", "b.example")), options: MailOptions())),
        ("RCPT TO:<c@d.example> \t", .rcpt(to: addr("c", "d.example"), options: RcptOptions())),
        ("RCPT TO:<Postmaster> ", .rcpt(to: addr("Postmaster", ""), options: RcptOptions())),
        ("NOOP  ping ", .noop("ping")),
        ("MAIL FROM:<>", .mail(from: .null, options: MailOptions())),
        ("mail from:<a@b.example>", .mail(from: .mailbox(addr("a", "b.example")), options: MailOptions())),
        ("MAIL FROM: <a@b.example>", .mail(from: .mailbox(addr("a", "b.example")), options: MailOptions())),
        ("MAIL FROM:a@b.example", .mail(from: .mailbox(addr("a", "b.example")), options: MailOptions())),
        ("MAIL FROM: a@b.example", .mail(from: .mailbox(addr("a", "b.example")), options: MailOptions())),
        ("MAIL FROM:a@b.example SIZE=10", .mail(from: .mailbox(addr("a", "b.example")), options: MailOptions(size: 10))),
        ("MAIL FROM:<\"john doe\"@example.org>", .mail(from: .mailbox(addr("\"john doe\"", "example.org")), options: MailOptions())),
        ("MAIL FROM:<\"a\\\"b\"@example.org>", .mail(from: .mailbox(addr("\"a\\\"b\"", "example.org")), options: MailOptions())),
        ("MAIL FROM:<@relay1.example,@relay2.example:user@example.org>",
         .mail(from: .mailbox(addr("user", "example.org")), options: MailOptions())),
        ("MAIL FROM:<user@[192.0.2.7]>", .mail(from: .mailbox(addr("user", "[192.0.2.7]")), options: MailOptions())),
        ("MAIL FROM:<user@[IPv6:2001:db8::1]>", .mail(from: .mailbox(addr("user", "[IPv6:2001:db8::1]")), options: MailOptions())),
        ("MAIL FROM:<user@[IPv6:::ffff:192.0.2.1]>", .mail(from: .mailbox(addr("user", "[IPv6:::ffff:192.0.2.1]")), options: MailOptions())),
        ("MAIL FROM:<user@[x-tag:whatever]>", .mail(from: .mailbox(addr("user", "[x-tag:whatever]")), options: MailOptions())),
        ("MAIL FROM:<pelé@exämple.org> SMTPUTF8", .mail(from: .mailbox(addr("pelé", "exämple.org")), options: MailOptions(utf8: true))),
        ("MAIL FROM:<用户@例子.广告> SMTPUTF8", .mail(from: .mailbox(addr("用户", "例子.广告")), options: MailOptions(utf8: true))),
        ("MAIL FROM:<a@b.example> BODY=8bitmime SIZE=1024", .mail(from: .mailbox(addr("a", "b.example")),
                                                               options: MailOptions(body: .eightBitMIME, size: 1024))),
        ("MAIL FROM:<a@b.example> body=BINARYMIME", .mail(from: .mailbox(addr("a", "b.example")), options: MailOptions(body: .binaryMIME))),
        ("MAIL FROM:<a@b.example> BODY=7BIT", .mail(from: .mailbox(addr("a", "b.example")), options: MailOptions(body: .sevenBit))),
        ("MAIL FROM:<a@b.example> REQUIRETLS", .mail(from: .mailbox(addr("a", "b.example")), options: MailOptions(requireTLS: true))),
        ("MAIL FROM:<a@b.example> AUTH=<>", .mail(from: .mailbox(addr("a", "b.example")), options: MailOptions(auth: ""))),
        ("MAIL FROM:<a@b.example> AUTH=e+3Dmc2@example.com", .mail(from: .mailbox(addr("a", "b.example")),
                                                                 options: MailOptions(auth: "e=mc2@example.com"))),
        ("MAIL FROM:<a@b.example> RET=HDRS ENVID=QQ314159", .mail(from: .mailbox(addr("a", "b.example")),
                                                                options: MailOptions(dsnReturn: .headers, envelopeID: "QQ314159"))),
        ("MAIL FROM:<a@b.example> ret=full envid=a+2Bb", .mail(from: .mailbox(addr("a", "b.example")),
                                                             options: MailOptions(dsnReturn: .full, envelopeID: "a+b"))),
        ("MAIL FROM:<a@b.example> SIZE=99999999999999999999", .mail(from: .mailbox(addr("a", "b.example")),
                                                                  options: MailOptions(size: Int.max))),
        ("MAIL FROM:<a@b.example> BY=3600;R", .mail(from: .mailbox(addr("a", "b.example")),
                                                  options: MailOptions(deliverBy: DeliverBy(seconds: 3600, mode: .returnMessage)))),
        ("MAIL FROM:<a@b.example> by=-120;nt", .mail(from: .mailbox(addr("a", "b.example")),
                                                   options: MailOptions(deliverBy: DeliverBy(seconds: -120, mode: .notify, trace: true)))),
        ("MAIL FROM:<a@b.example> BY=+999999999;N", .mail(from: .mailbox(addr("a", "b.example")),
                                                        options: MailOptions(deliverBy: DeliverBy(seconds: 999_999_999, mode: .notify)))),
        ("MAIL FROM:<a@b.example> MT-PRIORITY=-9", .mail(from: .mailbox(addr("a", "b.example")), options: MailOptions(priority: -9))),
        ("MAIL FROM:<a@b.example> mt-priority=0", .mail(from: .mailbox(addr("a", "b.example")), options: MailOptions(priority: 0))),
        ("MAIL FROM:<a@b.example> MT-PRIORITY=9", .mail(from: .mailbox(addr("a", "b.example")), options: MailOptions(priority: 9))),
        ("RCPT TO:<c@d.example>", .rcpt(to: addr("c", "d.example"), options: RcptOptions())),
        ("rcpt to: <c@d.example>", .rcpt(to: addr("c", "d.example"), options: RcptOptions())),
        ("RCPT TO:<Postmaster>", .rcpt(to: addr("Postmaster", ""), options: RcptOptions())),
        ("RCPT TO:<postmaster@d.example>", .rcpt(to: addr("postmaster", "d.example"), options: RcptOptions())),
        ("RCPT TO:<a.b+tag@d.example>", .rcpt(to: addr("a.b+tag", "d.example"), options: RcptOptions())),
        ("RCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE,DELAY", .rcpt(to: addr("c", "d.example"),
                                                                  options: RcptOptions(notify: [.success, .failure, .delay]))),
        ("RCPT TO:<c@d.example> NOTIFY=never", .rcpt(to: addr("c", "d.example"), options: RcptOptions(notify: [.never]))),
        ("RCPT TO:<c@d.example> ORCPT=rfc822;Bob+2Bx@d.example", .rcpt(
            to: addr("c", "d.example"), options: RcptOptions(originalRecipient: OriginalRecipient(address: "Bob+x@d.example")))),
        ("RCPT TO:<c@d.example> ORCPT=utf-8;pel\\x{E9}@d.example", .rcpt(
            to: addr("c", "d.example"), options: RcptOptions(originalRecipient: OriginalRecipient(addressType: "utf-8", address: "pelé@d.example")))),
        ("RCPT TO:<c@d.example> RRVS=2014-04-03T23:01:00Z", .rcpt(
            to: addr("c", "d.example"), options: RcptOptions(recipientValidSince: RecipientValidSince("2014-04-03T23:01:00Z")))),
        ("RCPT TO:<c@d.example> RRVS=1996-12-19T16:39:57-08:00;C", .rcpt(
            to: addr("c", "d.example"), options: RcptOptions(recipientValidSince: RecipientValidSince("1996-12-19T16:39:57-08:00;C")))),
        ("RCPT TO:<c@d.example> ORCPT=UTF-8;pelé@d.example NOTIFY=FAILURE", .rcpt(
            to: addr("c", "d.example"), options: RcptOptions(notify: [.failure],
                                                             originalRecipient: OriginalRecipient(addressType: "utf-8", address: "pelé@d.example")))),
        ("DATA", .data),
        ("data", .data),
        ("BDAT 0 LAST", .bdat(size: 0, last: true)),
        ("BDAT 1000", .bdat(size: 1000, last: false)),
        ("bdat 42 last", .bdat(size: 42, last: true)),
        ("RSET", .rset),
        ("VRFY postmaster", .vrfy("postmaster")),
        ("EXPN staff", .expn("staff")),
        ("HELP", .help(nil)),
        ("HELP MAIL", .help("MAIL")),
        ("NOOP", .noop(nil)),
        ("NOOP anything at all", .noop("anything at all")),
        ("QUIT", .quit),
        ("STARTTLS", .startTLS),
        ("AUTH PLAIN", .auth(mechanism: "PLAIN", initialResponse: nil)),
        ("auth plain =", .auth(mechanism: "PLAIN", initialResponse: [])),
        ("AUTH PLAIN AHVzZXIAcGFzcw==", .auth(mechanism: "PLAIN", initialResponse: Array("\0user\0pass".utf8))),
        ("AUTH CRAM-MD5", .auth(mechanism: "CRAM-MD5", initialResponse: nil)),
        ("XCLIENT NAME=mail.example ADDR=192.0.2.9 PORT=4321 PROTO=ESMTP HELO=[UNAVAILABLE] LOGIN=[TEMPUNAVAIL]",
         .xclient([XClientAttribute(name: .name, value: .value("mail.example")),
                   XClientAttribute(name: .address, value: .value("192.0.2.9")),
                   XClientAttribute(name: .port, value: .value("4321")),
                   XClientAttribute(name: .proto, value: .value("ESMTP")),
                   XClientAttribute(name: .helo, value: .unavailable),
                   XClientAttribute(name: .login, value: .temporarilyUnavailable)])),
        ("xclient addr=IPV6:2001:db8::5 destport=25 login=a+20b",
         .xclient([XClientAttribute(name: .address, value: .value("IPV6:2001:db8::5")),
                   XClientAttribute(name: .destinationPort, value: .value("25")),
                   XClientAttribute(name: .login, value: .value("a b"))])),
    ]

    @Test("parses", arguments: valid)
    func parses(line: String, expected: Command) throws {
        #expect(try Self.parser.parse(line) == expected)
        #expect(try Self.parser.parse(ByteBuffer(string: line)) == expected)
    }

    @Test("round-trips: encode then parse gives the same command", arguments: valid)
    func roundTrips(line: String, command: Command) throws {
        #expect(try Self.parser.parse(command.line) == command)
        var wire = ByteBuffer()
        command.write(to: &wire)
        #expect(wire.text == command.line + "\r\n")
    }

    static let invalid: [(String, Int, EnhancedCode, Command.Verb?)] = [
        ("FOO", 500, EnhancedCode(5, 5, 2), nil),
        ("", 500, EnhancedCode(5, 5, 2), nil),
        ("MAILFROM:<a@b>", 500, EnhancedCode(5, 5, 2), nil),
        ("STARTTLSX", 500, EnhancedCode(5, 5, 2), nil),
        ("DAT", 500, EnhancedCode(5, 5, 2), nil),
        ("DATA\u{E9}", 500, EnhancedCode(5, 5, 2), nil),
        ("MAIL  FROM:<a@b.example>", 501, EnhancedCode(5, 5, 4), .mail),
        ("HELO", 501, EnhancedCode(5, 5, 4), .helo),
        ("EHLO ", 501, EnhancedCode(5, 5, 4), .ehlo),
        ("MAIL", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL TO:<a@b>", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b", 501, EnhancedCode(5, 1, 7), .mail),
        ("MAIL FROM:<a>", 501, EnhancedCode(5, 1, 7), .mail),
        ("MAIL FROM:<@b.example>", 501, EnhancedCode(5, 1, 7), .mail),
        ("MAIL FROM:<a@>", 501, EnhancedCode(5, 1, 7), .mail),
        ("MAIL FROM:<a@-b.example>", 501, EnhancedCode(5, 1, 7), .mail),
        ("MAIL FROM:<a@b..example>", 501, EnhancedCode(5, 1, 7), .mail),
        ("MAIL FROM:<a b@c.example>", 501, EnhancedCode(5, 1, 7), .mail),
        ("MAIL FROM:<\"unterminated@c.example>", 501, EnhancedCode(5, 1, 7), .mail),
        ("MAIL FROM:<a@[300.1.1.1]>", 501, EnhancedCode(5, 1, 7), .mail),
        ("MAIL FROM:<a@[IPv6:1:2:3]>", 501, EnhancedCode(5, 1, 7), .mail),
        ("MAIL FROM:<a@[IPv6:1::2::3]>", 501, EnhancedCode(5, 1, 7), .mail),
        ("MAIL FROM:<a@b.example>SIZE=1", 501, EnhancedCode(5, 1, 7), .mail),
        ("MAIL FROM:<a@b.example> SIZE=abc", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> SIZE=", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> SIZE", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> SIZE=1 SIZE=2", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> BODY=9BIT", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> SMTPUTF8=yes", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> RET=ALL", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> ENVID=a+0Ab", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> ENVID=a+ZZ", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> ENVID=" + String(repeating: "x", count: 101), 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> AUTH=", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> BY=3600", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> BY=3600;X", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> BY=3600;RX", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> BY=1000000000;R", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> BY=;R", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> BY=1.5;R", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> MT-PRIORITY=10", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> MT-PRIORITY=+3", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> MT-PRIORITY=-0", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> MT-PRIORITY", 501, EnhancedCode(5, 5, 4), .mail),
        ("MAIL FROM:<a@b.example> =1", 501, EnhancedCode(5, 5, 4), .mail),
        ("RCPT TO:<>", 501, EnhancedCode(5, 1, 3), .rcpt),
        ("RCPT TO:", 501, EnhancedCode(5, 1, 3), .rcpt),
        ("RCPT FROM:<a@b>", 501, EnhancedCode(5, 5, 4), .rcpt),
        ("RCPT TO:<a@b.example> NOTIFY=DELAYED", 501, EnhancedCode(5, 5, 4), .rcpt),
        ("RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS", 501, EnhancedCode(5, 5, 4), .rcpt),
        ("RCPT TO:<a@b.example> NOTIFY=SUCCESS,SUCCESS", 501, EnhancedCode(5, 5, 4), .rcpt),
        ("RCPT TO:<a@b.example> NOTIFY=", 501, EnhancedCode(5, 5, 4), .rcpt),
        ("RCPT TO:<a@b.example> ORCPT=a@b.example", 501, EnhancedCode(5, 5, 4), .rcpt),
        ("RCPT TO:<a@b.example> ORCPT=rfc822;", 501, EnhancedCode(5, 5, 4), .rcpt),
        ("RCPT TO:<a@b.example> ORCPT=utf-8;a\\x{D800}@b", 501, EnhancedCode(5, 5, 4), .rcpt),
        ("RCPT TO:<a@b.example> RRVS=2014-04-03", 501, EnhancedCode(5, 5, 4), .rcpt),
        ("RCPT TO:<a@b.example> RRVS=2014-02-30T23:01:00Z", 501, EnhancedCode(5, 5, 4), .rcpt),
        ("RCPT TO:<a@b.example> RRVS=2014-04-03T24:01:00Z", 501, EnhancedCode(5, 5, 4), .rcpt),
        ("RCPT TO:<a@b.example> RRVS=2014-04-03T23:01:00", 501, EnhancedCode(5, 5, 4), .rcpt),
        ("RCPT TO:<a@b.example> RRVS=2014-04-03T23:01:00Z;X", 501, EnhancedCode(5, 5, 4), .rcpt),
        ("RCPT TO:<a@b.example> RRVS=2014-04-03T23:01:00.Z", 501, EnhancedCode(5, 5, 4), .rcpt),
        ("DATA x", 501, EnhancedCode(5, 5, 4), .data),
        ("BDAT", 501, EnhancedCode(5, 5, 4), .bdat),
        ("BDAT x", 501, EnhancedCode(5, 5, 4), .bdat),
        ("BDAT -1", 501, EnhancedCode(5, 5, 4), .bdat),
        ("BDAT 10 FIRST", 501, EnhancedCode(5, 5, 4), .bdat),
        ("BDAT 10 LAST x", 501, EnhancedCode(5, 5, 4), .bdat),
        ("BDAT 99999999999999999999", 501, EnhancedCode(5, 5, 4), .bdat),
        ("RSET now", 501, EnhancedCode(5, 5, 4), .rset),
        ("QUIT now", 501, EnhancedCode(5, 5, 4), .quit),
        ("STARTTLS x", 501, EnhancedCode(5, 5, 4), .startTLS),
        ("VRFY", 501, EnhancedCode(5, 5, 4), .vrfy),
        ("EXPN", 501, EnhancedCode(5, 5, 4), .expn),
        ("AUTH", 501, EnhancedCode(5, 5, 4), .auth),
        ("AUTH PLAIN a b", 501, EnhancedCode(5, 5, 4), .auth),
        ("AUTH PL@IN", 501, EnhancedCode(5, 5, 4), .auth),
        ("AUTH PLAIN AHVzZXIAcGFzcw=", 501, EnhancedCode(5, 5, 2), .auth),
        ("AUTH PLAIN !!!!", 501, EnhancedCode(5, 5, 2), .auth),
        ("XCLIENT", 501, EnhancedCode(5, 5, 4), .xclient),
        ("XCLIENT COLOR=red", 501, EnhancedCode(5, 5, 4), .xclient),
        ("XCLIENT ADDR=999.1.1.1", 501, EnhancedCode(5, 5, 4), .xclient),
        ("XCLIENT PORT=70000", 501, EnhancedCode(5, 5, 4), .xclient),
        ("XCLIENT PROTO=HTTP", 501, EnhancedCode(5, 5, 4), .xclient),
        ("XCLIENT NAME=a+0Ab", 501, EnhancedCode(5, 5, 4), .xclient),
        ("XCLIENT NAME", 501, EnhancedCode(5, 5, 4), .xclient),
    ]

    @Test("refuses with the precise reply", arguments: invalid)
    func refuses(line: String, code: Int, enhanced: EnhancedCode, verb: Command.Verb?) {
        #expect(throws: CommandParseError.self) { _ = try Self.parser.parse(line) }
        do {
            _ = try Self.parser.parse(line)
        } catch {
            #expect(error.error.code == code)
            #expect(error.error.enhancedCode == enhanced)
            #expect(error.verb == verb)
        }
    }

    static let controlCharacters: [String] = [
        "MAIL FROM:<a@b.example>\rRCPT TO:<c@d.example>",
        "MAIL FROM:<a@b.example>\nRCPT TO:<c@d.example>",
        "HELO a\0b",
        "RCPT TO:<a\r@b.example>",
        "NOOP \n",
        "XCLIENT NAME=a\rb",
    ]

    @Test("refuses CR, LF and NUL anywhere in a line", arguments: controlCharacters)
    func refusesControlCharacters(line: String) {
        do {
            _ = try Self.parser.parse(line)
            Issue.record("accepted \(line.debugDescription)")
        } catch {
            #expect(error.error.code == 501)
            #expect(error.error.enhancedCode == EnhancedCode(5, 5, 2))
        }
    }

    @Test("refuses invalid UTF-8")
    func refusesInvalidUTF8() {
        let line = Array("MAIL FROM:<".utf8) + [0xC3, 0x28] + Array("@b.example>".utf8)
        #expect(throws: CommandParseError.self) { _ = try Self.parser.parse(line) }
    }

    static let strictOnlyFailures = ["MAIL FROM:a@b.example", "RCPT TO:c@d.example", "MAIL FROM:<a..b@c.example>"]

    @Test("strict mode requires angle brackets and a proper dot-string", arguments: strictOnlyFailures)
    func strictMode(line: String) throws {
        _ = try Self.parser.parse(line)
        #expect(throws: CommandParseError.self) { _ = try Self.strictParser.parse(line) }
    }

    @Test("strict mode accepts the RFC form")
    func strictAcceptsRFCForm() throws {
        #expect(try Self.strictParser.parse("MAIL FROM:<a@b.example> SIZE=5") ==
                .mail(from: .mailbox(Self.addr("a", "b.example")), options: MailOptions(size: 5)))
    }

    @Test("addresses expose their parts")
    func addressParts() throws {
        let quoted = try #require(Address("\"john \\\"jd\\\" doe\"@example.org"))
        #expect(quoted.unquotedLocalPart == "john \"jd\" doe")
        #expect(Address.wireLocalPart("john \"jd\" doe") == "\"john \\\"jd\\\" doe\"")
        #expect(Address.wireLocalPart("plain.name") == "plain.name")
        #expect(Address("pelé@exämple.org")?.isASCII == false)
        #expect(Address("a@[192.0.2.1]")?.isAddressLiteral == true)
        #expect(Address("no-at-sign") == nil)
        #expect(Address("a@b.example ") == nil)
        #expect(ReversePath.null.description == "")
    }
}
