import Testing
@testable import SMTPCore

@Suite("xtext, unitext and base64")
struct EncodingTests {
    static let xtextPairs: [(String, String)] = [
        ("", ""),
        ("plain", "plain"),
        ("a+b=c", "a+2Bb+3Dc"),
        ("with space", "with+20space"),
        ("tab\there", "tab+09here"),
        ("pelé", "pel+C3+A9"),
        ("~!", "~!"),
    ]

    @Test("xtext encodes and decodes", arguments: xtextPairs)
    func xtext(decoded: String, encoded: String) {
        #expect(XText.encode(decoded) == encoded)
        #expect(XText.decode(encoded) == decoded)
    }

    @Test("xtext round-trips every byte value")
    func xtextAllBytes() {
        let bytes = (0...255).map(UInt8.init)
        let encoded = XText.encode(bytes)
        #expect(encoded.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: "=") })
        #expect(XText.decodeBytes(encoded) == bytes)
    }

    @Test("xtext refuses malformed input", arguments: ["a+", "a+4", "a+GG", "a=b", "a b", "é"])
    func xtextMalformed(text: String) {
        #expect(XText.decodeBytes(text) == nil)
    }

    @Test("xtext accepts lower-case hex as Postfix does")
    func xtextLowercase() {
        #expect(XText.decode("a+2bb") == "a+b")
    }

    static let unitextCases: [(String, String, String)] = [
        // (decoded, utf-8-addr-xtext, utf-8-addr-unitext)
        ("pelé@example.org", "pel\\x{E9}@example.org", "pelé@example.org"),
        ("a+b=c\\d@x", "a\\x{2B}b\\x{3D}c\\x{5C}d@x", "a\\x{2B}b\\x{3D}c\\x{5C}d@x"),
        ("用户@例子", "\\x{7528}\\x{6237}@\\x{4F8B}\\x{5B50}", "用户@例子"),
        ("emoji😀@x", "emoji\\x{1F600}@x", "emoji😀@x"),
        ("sp ace@x", "sp\\x{20}ace@x", "sp\\x{20}ace@x"),
    ]

    @Test("unitext encodes and decodes both forms", arguments: unitextCases)
    func unitext(decoded: String, xtext: String, unitext: String) {
        #expect(UniText.encodeXText(decoded) == xtext)
        #expect(UniText.encodeUniText(decoded) == unitext)
        #expect(UniText.decode(xtext) == decoded)
        #expect(UniText.decode(unitext) == decoded)
        #expect(xtext.utf8.allSatisfy { $0 < 0x80 })
    }

    @Test("unitext refuses malformed input", arguments: ["", "\\x{}", "\\x{1}", "\\x{D800}", "\\x{110000}", "\\x{1234567}",
                                                       "\\x1234", "\\y{41}", "a=b", "a b", "\\x{41"])
    func unitextMalformed(text: String) {
        #expect(UniText.decode(text) == nil)
    }

    @Test("base64 round-trips and refuses garbage")
    func base64() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(($0 * 37 + length) & 0xFF) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("\0user\0pass".utf8)) == "AHVzZXIAcGFzcw==")
        for bad in ["A", "AB=C", "A===", "AB*D", "QR==", "QUI=QUI="] {
            #expect(Base64.decode(bad) == nil, "\(bad)")
        }
    }
}
