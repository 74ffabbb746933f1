import NIOCore
import Testing
@testable import SMTPCore

@Suite("Line framing")
struct LineFramerTests {
    func frame(_ chunks: [[UInt8]], maximum: Int = 512, bareLF: Bool = false) -> (lines: [String], rest: [UInt8]) {
        var framer = LineFramer(maximumLineLength: maximum, allowsBareLineFeed: bareLF)
        var lines: [String] = []
        for chunk in chunks {
            var input = buffer(chunk)
            while let result = framer.next(&input) {
                switch result {
                case .line(let line): lines.append(line.text)
                case .tooLong: lines.append("<too long>")
                }
            }
            #expect(input.readableBytes == 0)
        }
        return (lines, [])
    }

    @Test("splits at CRLF whatever the chunking")
    func splits() {
        let stream = Array("EHLO a\r\nMAIL FROM:<>\r\n\r\nQUIT\r\npartial".utf8)
        for chunks in chunkings(of: stream) {
            #expect(frame(chunks).lines == ["EHLO a", "MAIL FROM:<>", "", "QUIT"])
        }
    }

    @Test("keeps a bare LF or CR inside the line unless told otherwise")
    func bareLineFeed() {
        #expect(frame([Array("A\nB\r\nC\rD\r\n".utf8)]).lines == ["A\nB", "C\rD"])
        #expect(frame([Array("A\nB\r\nC\n".utf8)], bareLF: true).lines == ["A", "B", "C"])
    }

    @Test("reports an overlong line once and resynchronises, whatever the chunking")
    func overlong() {
        let long = String(repeating: "x", count: 30)
        let stream = Array("OK1\r\n\(long)\r\nOK2\r\n\(long)\r\r\nOK3\r\n".utf8)
        for chunks in chunkings(of: stream) {
            #expect(frame(chunks, maximum: 12).lines == ["OK1", "<too long>", "OK2", "<too long>", "OK3"])
        }
    }

    @Test("the limit counts the CRLF (RFC 5321 §4.5.3.1.4)")
    func limitIncludesCRLF() {
        #expect(frame([Array("1234567890\r\n".utf8)], maximum: 12).lines == ["1234567890"])
        #expect(frame([Array("12345678901\r\n".utf8)], maximum: 12).lines == ["<too long>"])
        for chunks in chunkings(of: Array("12345678901\r\nA\r\n".utf8)) {
            #expect(frame(chunks, maximum: 12).lines == ["<too long>", "A"])
        }
    }

    @Test("never buffers more than the limit")
    func bounded() {
        var framer = LineFramer(maximumLineLength: 64)
        for _ in 0..<1000 {
            var input = buffer([UInt8](repeating: UInt8(ascii: "a"), count: 1000))
            #expect(framer.next(&input) == nil)
            #expect(framer.bufferedByteCount <= 64)
        }
        var end = buffer("\r\nNEXT\r\n")
        #expect(framer.next(&end) == .tooLong)
        #expect(framer.next(&end) == .line(buffer("NEXT")))
    }

    @Test("leaves the bytes after a line in the caller's buffer")
    func leavesRest() {
        var framer = LineFramer()
        var input = buffer("DATA\r\nSubject: x\r\n")
        #expect(framer.next(&input) == .line(buffer("DATA")))
        #expect(input.text == "Subject: x\r\n")
    }
}
