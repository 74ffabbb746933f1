import NIOCore
import Testing
@testable import SMTPCore

/// An obviously correct, slow model of RFC 5321 §4.1.1.4/§4.5.2: the data ends at the first
/// CRLF "." CRLF (the start counts as after CRLF); lines are split only at CRLF, and a line's
/// leading dot is removed.
func referenceDecode(_ stream: [UInt8]) -> (body: [UInt8], consumed: Int)? {
    let framed = [0x0D, 0x0A] + stream
    let terminator: [UInt8] = [0x0D, 0x0A, UInt8(ascii: "."), 0x0D, 0x0A]
    guard framed.count >= 5 else { return nil }
    var end: Int?
    for start in 0...(framed.count - 5) where Array(framed[start..<start + 5]) == terminator {
        end = start
        break
    }
    guard let end else { return nil }
    // Body with its final CRLF: framed[2 ..< end + 2].
    let raw = Array(framed[2..<(end + 2)])
    var body: [UInt8] = []
    var atLineStart = true
    var index = 0
    while index < raw.count {
        if atLineStart && raw[index] == UInt8(ascii: ".") {
            index += 1
            atLineStart = false
            continue
        }
        atLineStart = raw[index] == 0x0A && index > 0 && raw[index - 1] == 0x0D
        body.append(raw[index])
        index += 1
    }
    return (body, end + 3)
}

struct DecodedData {
    var body: [UInt8] = []
    var end: DataEnd?
    var rest: [UInt8] = []
}

func decodeData(_ chunks: [[UInt8]], maximum: Int? = nil, strict: Bool = false) -> DecodedData {
    var decoder = DataDecoder(maximumBytes: maximum, rejectBareLineEndings: strict)
    var result = DecodedData()
    for chunk in chunks {
        var input = buffer(chunk)
        if result.end == nil {
            result.end = decoder.decode(&input) { result.body += $0.bytes }
        }
        result.rest += input.bytes
    }
    return result
}

@Suite("DATA decoding and encoding")
struct DataCodingTests {
    static let smugglingSequences: [String] = {
        // Every mix of line ending before and after the dot, except the one real terminator,
        // plus the variants with NUL from the SMTP smuggling research (SEC Consult, 2023).
        let endings = ["\n", "\r", "\r\n", ""]
        var sequences: [String] = []
        for before in endings {
            for after in endings where !(before == "\r\n" && after == "\r\n") {
                sequences.append(before + "." + after)
            }
        }
        return sequences + ["\r\n\0.\r\n", "\r\n.\0\r\n", "\r\n\r.\r\n", "\r\n.\r\r\n", "\r\n.\n\r\n", "\n\r\n.\n"]
    }()

    @Test("no smuggling sequence ends the data", arguments: smugglingSequences)
    func smuggling(sequence: String) throws {
        let stream = Array(("Subject: hi\r\n\r\nbody" + sequence + "MAIL FROM:<evil@example>\r\nRCPT TO:<victim@example>\r\n"
                            + "DATA\r\nforged\r\n.\r\nQUIT\r\n").utf8)
        let expected = try #require(referenceDecode(stream))
        for chunks in chunkings(of: stream) {
            let decoded = decodeData(chunks)
            #expect(decoded.end == .complete)
            #expect(decoded.body == expected.body)
            #expect(decoded.rest == Array("QUIT\r\n".utf8))
        }
        let body = String(decoding: expected.body, as: UTF8.self)
        #expect(body.contains("MAIL FROM:<evil@example>"))
    }

    @Test("strict mode refuses every smuggling sequence but stays in sync", arguments: smugglingSequences)
    func smugglingStrict(sequence: String) {
        // The sequences whose only irregularity is a NUL or a plain dot line are not bare CR/LF.
        let hasBareEnding: Bool = {
            let bytes = Array(("x" + sequence + "y").utf8)
            for (index, byte) in bytes.enumerated() {
                if byte == 0x0D && bytes[index + 1] != 0x0A { return true }
                if byte == 0x0A && bytes[index - 1] != 0x0D { return true }
            }
            return false
        }()
        let stream = Array(("x" + sequence + "y\r\n.\r\nNOOP\r\n").utf8)
        for chunks in chunkings(of: stream) {
            let decoded = decodeData(chunks, strict: true)
            #expect(decoded.end == (hasBareEnding ? .failed(ServerReplies.bareLineEnding.error) : .complete))
            #expect(decoded.rest == Array("NOOP\r\n".utf8))
        }
    }

    static let bodies: [String] = [
        ".\r\n",
        "\r\n.\r\n",
        "a\r\n.\r\n",
        "..\r\n.\r\n",
        "...x\r\n..\r\n.y\r\n.\r\n",
        ".a\r\n.\r\n",
        "line\r\n.. leading\r\nend\r\n.\r\n",
        "bare\rcr\r\n.\r\n",
        "bare\nlf\r\n.\r\n",
        "\r\r\n.\r\n",
        "x\r\n.\rx\r\n.\r\n",
        "x\r\n.\r\r\n.\r\n",
        "x\r\n\r\n\r\n.\r\n",
        String(repeating: "0123456789abcdef", count: 300) + "\r\n.\r\n",
    ]

    @Test("decodes the same body whatever the chunking", arguments: bodies)
    func chunkingInvariance(text: String) throws {
        let stream = Array((text + "NEXT").utf8)
        let expected = try #require(referenceDecode(stream))
        for chunks in chunkings(of: stream) {
            let decoded = decodeData(chunks)
            #expect(decoded.end == .complete)
            #expect(decoded.body == expected.body)
            #expect(decoded.rest == Array("NEXT".utf8))
        }
    }

    @Test("waits for more input while the end is not there")
    func incomplete() {
        for text in ["", "abc", "abc\r\n", "abc\r\n.", "abc\r\n.\r", "abc\n.\n"] {
            let decoded = decodeData([Array(text.utf8)])
            #expect(decoded.end == nil, "\(text.debugDescription)")
        }
    }

    @Test("enforces the size limit while streaming and still finds the end")
    func sizeLimit() {
        let body = String(repeating: "x", count: 98) + "\r\n"     // 100 octets
        let ok = decodeData([Array((body + ".\r\nREST").utf8)], maximum: 100)
        #expect(ok.end == .complete)
        #expect(ok.body.count == 100)
        for chunks in chunkings(of: Array((body + "y\r\n.\r\nREST").utf8)) {
            let tooBig = decodeData(chunks, maximum: 100)
            #expect(tooBig.end == .failed(SMTPError.dataTooLarge))
            #expect(tooBig.body.count <= 100)
            #expect(tooBig.rest == Array("REST".utf8))
        }
    }

    @Test("does not hold the message: memory is the caller's chunks")
    func streaming() {
        var decoder = DataDecoder()
        var total = 0
        let line = ByteBuffer(string: String(repeating: "a", count: 1022) + "\r\n")
        for _ in 0..<4096 {       // 4 MiB through a decoder with no buffer of its own
            var input = line
            #expect(decoder.decode(&input) { total += $0.readableBytes } == nil)
        }
        var end = ByteBuffer(string: ".\r\n")
        #expect(decoder.decode(&end) { total += $0.readableBytes } == .complete)
        #expect(total == 4096 * 1024)
        #expect(decoder.byteCount == total)
    }

    static let encoderCases: [(String, String)] = [
        ("", ".\r\n"),
        ("a", "a\r\n.\r\n"),
        ("a\r\n", "a\r\n.\r\n"),
        (".", "..\r\n.\r\n"),
        (".a\r\n.\r\n..\r\n", "..a\r\n..\r\n...\r\n.\r\n"),
        ("a\nb\n", "a\r\nb\r\n.\r\n"),
        ("a\rb", "a\r\nb\r\n.\r\n"),
        ("a\n.\nb", "a\r\n..\r\nb\r\n.\r\n"),
        ("x\r\r\ny", "x\r\n\r\ny\r\n.\r\n"),
        ("mid.dot\r\n", "mid.dot\r\n.\r\n"),
    ]

    @Test("encodes: dot-stuffing, CRLF normalisation, terminator", arguments: encoderCases)
    func encodes(input: String, wire: String) {
        for chunks in chunkings(of: Array(input.utf8)) {
            var encoder = DataEncoder()
            var output = ByteBuffer()
            for chunk in chunks { encoder.encode(buffer(chunk), into: &output) }
            encoder.finish(into: &output)
            #expect(output.text == wire)
        }
    }

    @Test("what the encoder writes, the decoder reads back", arguments: bodies + ["no newline", "a\nb", ".\n.\n"])
    func encoderDecoderRoundTrip(text: String) {
        var encoder = DataEncoder()
        var wire = ByteBuffer()
        encoder.encode(ByteBuffer(string: text), into: &wire)
        encoder.finish(into: &wire)
        let decoded = decodeData([wire.bytes], strict: true)
        #expect(decoded.end == .complete)
        #expect(decoded.rest.isEmpty)
        // The body is the input with its line endings normalised and a final CRLF.
        var normalised = text.replacingCRLFVariants()
        if !normalised.isEmpty && !normalised.hasSuffix("\r\n") { normalised += "\r\n" }
        #expect(String(decoding: decoded.body, as: UTF8.self) == normalised)
    }

    @Test("the BDAT chunk reader takes exactly the chunk")
    func chunkReader() {
        var reader = ChunkReader(size: 10)
        var first = buffer("12345")
        #expect(reader.next(&first)?.text == "12345")
        var second = buffer("67890BDAT 0 LAST\r\n")
        #expect(reader.next(&second)?.text == "67890")
        #expect(reader.isComplete)
        #expect(reader.next(&second) == nil)
        #expect(second.text == "BDAT 0 LAST\r\n")
    }
}

extension String {
    /// CRLF, bare CR and bare LF all become CRLF.
    func replacingCRLFVariants() -> String {
        var out = ""
        var previousWasCR = false
        for scalar in unicodeScalars {
            if scalar == "\n" {
                if !previousWasCR { out += "\r\n" }
                previousWasCR = false
            } else if scalar == "\r" {
                out += "\r\n"
                previousWasCR = true
            } else {
                out.unicodeScalars.append(scalar)
                previousWasCR = false
            }
        }
        return out
    }
}
