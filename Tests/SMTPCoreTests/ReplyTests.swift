import NIOCore
import Testing
@testable import SMTPCore

@Suite("Replies: encoding, decoding and enhanced codes")
struct ReplyTests {
    static let encodings: [(Reply, String)] = [
        (Reply(code: 250, enhancedCode: EnhancedCode(2, 1, 0), text: "Ok"), "250 2.1.0 Ok\r\n"),
        (Reply(code: 250, enhancedCode: .notSet, text: "Ok"), "250 2.0.0 Ok\r\n"),
        (Reply(code: 451, enhancedCode: .notSet, text: "try later"), "451 4.0.0 try later\r\n"),
        (Reply(code: 554, enhancedCode: .notSet, text: "no"), "554 5.0.0 no\r\n"),
        (Reply(code: 250, enhancedCode: .omitted, text: "Ok"), "250 Ok\r\n"),
        (Reply(code: 354, enhancedCode: .notSet, text: "go ahead"), "354 go ahead\r\n"),
        (Reply(code: 354, enhancedCode: EnhancedCode(2, 0, 0), text: "go ahead"), "354 go ahead\r\n"),
        (Reply(code: 334, enhancedCode: .notSet, text: ""), "334 \r\n"),
        (Reply(code: 250, enhancedCode: .omitted, lines: ["mx.example", "PIPELINING", "SIZE 10"]),
         "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 10\r\n"),
        (Reply(code: 550, enhancedCode: EnhancedCode(5, 7, 1), text: "first\nsecond"),
         "550-5.7.1 first\r\n550 5.7.1 second\r\n"),
        (Reply(code: 250, enhancedCode: EnhancedCode(2, 0, 0), text: ""), "250 2.0.0\r\n"),
        (Reply(code: 550, enhancedCode: .notSet, text: "a\rb\u{0}c"), "550 5.0.0 a b c\r\n"),
        (Reply(code: 452, enhancedCode: EnhancedCode(4, 123, 999), text: "wide"), "452 4.123.999 wide\r\n"),
        (Reply(code: 250, enhancedCode: .omitted, text: "one line\r"), "250 one line\r\n"),
        (Reply(code: 250, enhancedCode: .omitted, text: "two\r\nlines\r"), "250-two\r\n250 lines\r\n"),
        (Reply(code: 250, enhancedCode: .omitted, lines: ["x", String(repeating: "y", count: 600)]),
         "250-x\r\n250 " + String(repeating: "y", count: 600) + "\r\n"),
    ]

    @Test("encodes", arguments: encodings)
    func encodes(reply: Reply, wire: String) {
        #expect(reply.encoded == wire)
    }

    /// Out-of-range numbers a caller might build are written as they are, never cut short (they
    /// are not valid replies, so they are not in the round trip).
    @Test("encodes out-of-range numbers whole")
    func encodesOutOfRange() {
        #expect(Reply(code: 1_234_567, enhancedCode: .omitted, text: "big").encoded == "1234567 big\r\n")
        #expect(Reply(code: -1, enhancedCode: .omitted, lines: ["a", "b"]).encoded == "-1-a\r\n-1 b\r\n")
        #expect(Reply(code: 250, enhancedCode: EnhancedCode(2, 0, Int.max), text: "").encoded == "250 2.0.\(Int.max)\r\n")
    }

    static let decodings: [(String, Reply)] = [
        ("250 2.1.0 Ok\r\n", Reply(code: 250, enhancedCode: EnhancedCode(2, 1, 0), text: "Ok")),
        ("250 Ok\r\n", Reply(code: 250, enhancedCode: .omitted, text: "Ok")),
        ("220\r\n", Reply(code: 220, enhancedCode: .omitted, text: "")),
        ("250-mx\r\n250-8BITMIME\r\n250 SIZE 1000\r\n",
         Reply(code: 250, enhancedCode: .omitted, lines: ["mx", "8BITMIME", "SIZE 1000"])),
        ("550-5.1.1 no such\r\n550 5.1.1 user\r\n", Reply(code: 550, enhancedCode: EnhancedCode(5, 1, 1), lines: ["no such", "user"])),
        // A code of another class is text, not an enhanced code (RFC 2034 §4).
        ("250 5.1.1 odd\r\n", Reply(code: 250, enhancedCode: .omitted, text: "5.1.1 odd")),
        ("451 4.3.0\r\n", Reply(code: 451, enhancedCode: EnhancedCode(4, 3, 0), text: "")),
        ("250 2.0.0Ok\r\n", Reply(code: 250, enhancedCode: .omitted, text: "2.0.0Ok")),
        ("250 Ok\n", Reply(code: 250, enhancedCode: .omitted, text: "Ok")),
    ]

    @Test("decodes, whatever the chunking", arguments: decodings)
    func decodes(wire: String, expected: Reply) throws {
        for chunks in chunkings(of: Array(wire.utf8)) {
            var decoder = ReplyDecoder()
            var replies: [Reply] = []
            for chunk in chunks {
                var input = buffer(chunk)
                while let reply = try decoder.decode(&input) { replies.append(reply) }
            }
            #expect(replies == [expected])
        }
    }

    @Test("round-trips every encodable reply", arguments: encodings)
    func roundTrips(reply: Reply, wire: String) throws {
        var decoder = ReplyDecoder()
        var input = buffer(wire)
        let decoded = try #require(try decoder.decode(&input))
        #expect(decoded.code == reply.code)
        #expect(decoded.enhancedCode == (reply.enhancedCode.resolved(forReplyCode: reply.code) ?? .omitted))
    }

    @Test("decodes pipelined replies one by one")
    func pipelined() throws {
        var decoder = ReplyDecoder()
        var input = buffer("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n")
        #expect(try decoder.decode(&input)?.code == 250)
        #expect(try decoder.decode(&input)?.enhancedCode == EnhancedCode(2, 1, 5))
        #expect(try decoder.decode(&input)?.code == 354)
        #expect(try decoder.decode(&input) == nil)
        #expect(decoder.bufferedByteCount == 0)
    }

    static let malformed = ["hello\r\n", "25 x\r\n", "2500 x\r\n", "250x\r\n", "650 x\r\n", "160 x\r\n", "\r\n"]

    @Test("refuses malformed lines", arguments: malformed)
    func refusesMalformed(wire: String) {
        var decoder = ReplyDecoder()
        var input = buffer(wire)
        #expect(throws: ReplyDecodingError.self) { _ = try decoder.decode(&input) }
    }

    @Test("refuses a continuation with another code")
    func inconsistent() {
        var decoder = ReplyDecoder()
        var input = buffer("250-a\r\n251 b\r\n")
        #expect(throws: ReplyDecodingError.inconsistentCode(expected: 250, found: 251)) { _ = try decoder.decode(&input) }
    }

    @Test("refuses overlong lines and endless replies")
    func bounded() {
        var decoder = ReplyDecoder(maximumLineLength: 16, maximumLines: 3)
        var long = buffer("250 " + String(repeating: "x", count: 40) + "\r\n")
        #expect(throws: ReplyDecodingError.tooLong) { _ = try decoder.decode(&long) }
        var decoder2 = ReplyDecoder(maximumLineLength: 16, maximumLines: 3)
        var many = buffer("250-a\r\n250-b\r\n250-c\r\n250-d\r\n")
        #expect(throws: ReplyDecodingError.tooLong) { _ = try decoder2.decode(&many) }
    }

    @Test("enhanced code sentinels resolve per RFC 3463")
    func sentinels() {
        #expect(EnhancedCode.notSet.resolved(forReplyCode: 421) == EnhancedCode(4, 0, 0))
        #expect(EnhancedCode.omitted.resolved(forReplyCode: 421) == nil)
        #expect(EnhancedCode(5, 1, 1).resolved(forReplyCode: 354) == nil)
        #expect(EnhancedCode(5, 1, 1).description == "5.1.1")
        #expect(EnhancedCode.parsePrefix("5.7.11 x")?.code == EnhancedCode(5, 7, 11))
        #expect(EnhancedCode.parsePrefix("3.1.1 x") == nil)
        #expect(EnhancedCode.parsePrefix("5.1234.1") == nil)
    }

    @Test("standard errors carry the reference's codes")
    func standardErrors() {
        #expect(SMTPError.dataTooLarge.reply.encoded == "552 5.3.4 Maximum message size exceeded\r\n")
        #expect(SMTPError.authRequired.code == 530)
        #expect(SMTPError.authUnsupported.code == 502)
        #expect(SMTPError.dataReset.isTemporary)
        #expect(SMTPError(code: 550, message: "x").isPermanent)
        #expect(Reply(code: 550, enhancedCode: EnhancedCode(5, 1, 1), lines: ["a", "b"]).error.message == "a\nb")
    }
}
