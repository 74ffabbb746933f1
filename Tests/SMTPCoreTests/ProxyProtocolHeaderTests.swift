import NIOCore
import Testing
@testable import SMTPCore

@Suite("PROXY protocol headers (HAProxy proxy-protocol.txt)")
struct ProxyProtocolHeaderTests {
    static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// Decodes `bytes` offered one octet more at a time: `nil` until the last, then the header,
    /// with `rest` left behind.
    static func decodeGrowing(_ bytes: [UInt8], rest: [UInt8] = []) throws -> ProxyProtocolHeader? {
        for end in 1..<bytes.count {
            var partial = ByteBuffer(bytes: bytes[..<end])
            guard try ProxyProtocolHeader.decode(&partial) == nil else { return nil }
            #expect(partial.readableBytes == end)
        }
        var whole = ByteBuffer(bytes: bytes + rest)
        let header = try ProxyProtocolHeader.decode(&whole)
        #expect(Array(whole.readableBytesView) == rest)
        return header
    }

    @Test("version 1: TCP4, TCP6 and UNKNOWN, what follows the header left in the buffer")
    func textHeaders() throws {
        let four = try #require(try Self.decodeGrowing(Array("PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\r\n".utf8),
                                                       rest: Array("EHLO x\r\n".utf8)))
        #expect(four.version == .one)
        #expect(four.source == (try SocketAddress(ipAddress: "192.0.2.7", port: 56324)))
        #expect(four.destination == (try SocketAddress(ipAddress: "198.51.100.1", port: 25)))
        let six = try #require(try Self.decodeGrowing(Array("PROXY TCP6 2001:db8::7 2001:db8::1 65535 0\r\n".utf8)))
        #expect(six.source == (try SocketAddress(ipAddress: "2001:db8::7", port: 65535)))
        let unknown = try #require(try Self.decodeGrowing(Array("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n".utf8)))
        #expect(unknown.source == nil && unknown.destination == nil)
    }

    @Test("version 1: malformed headers are errors as soon as they are seen", arguments: [
        "EHLO client.test\r\n", "PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n", "PROXY TCP4 192.0.2.7 198.51.100.1 56324 25\n",
        "PROXY TCP4 192.0.2.300 198.51.100.1 56324 25\r\n", "PROXY TCP4 192.0.2.7 198.51.100.1 65536 25\r\n",
        "PROXY TCP4 192.0.2.7 198.51.100.1 056324 25\r\n", "PROXY TCP6 192.0.2.7 198.51.100.1 1 25\r\n",
        "PROXY UDP4 192.0.2.7 198.51.100.1 1 25\r\n", "proxy TCP4 192.0.2.7 198.51.100.1 1 25\r\n",
        "PROXY TCP4 " + String(repeating: "1", count: 100) + "\r\n",
    ])
    func textMalformed(_ text: String) {
        var buffer = ByteBuffer(string: text)
        #expect(throws: ProxyProtocolHeader.DecodingError.self) { try ProxyProtocolHeader.decode(&buffer) }
    }

    @Test("version 2: TCP over IPv4 with TLVs after it, TCP over IPv6, LOCAL, Unix sockets")
    func binaryHeaders() throws {
        // PROXY, TCP over IPv4, 12 octets of addresses and 7 of a TLV (type 0x05 unique id).
        let tlv: [UInt8] = [0x05, 0x00, 0x04, 0xDE, 0xAD, 0xBE, 0xEF]
        let four = Self.signature + [0x21, 0x11, 0x00, UInt8(12 + tlv.count), 192, 0, 2, 7, 198, 51, 100, 1, 0xDC, 0x04, 0x00, 0x19] + tlv
        let header = try #require(try Self.decodeGrowing(four, rest: Array("EHLO".utf8)))
        #expect(header.version == .two)
        #expect(header.source == (try SocketAddress(ipAddress: "192.0.2.7", port: 56324)))
        #expect(header.destination == (try SocketAddress(ipAddress: "198.51.100.1", port: 25)))
        var addresses = [UInt8](repeating: 0, count: 36)
        addresses[0] = 0x20; addresses[1] = 0x01; addresses[2] = 0x0D; addresses[3] = 0xB8; addresses[15] = 7
        addresses[16] = 0x20; addresses[17] = 0x01; addresses[18] = 0x0D; addresses[19] = 0xB8; addresses[31] = 1
        addresses[32] = 0x30; addresses[33] = 0x39; addresses[35] = 25
        let six = try #require(try Self.decodeGrowing(Self.signature + [0x21, 0x21, 0x00, 36] + addresses))
        #expect(six.source == (try SocketAddress(ipAddress: "2001:db8::7", port: 12345)))
        let local = try #require(try Self.decodeGrowing(Self.signature + [0x20, 0x00, 0x00, 0x00]))
        #expect(local.source == nil)
        let unix = try #require(try Self.decodeGrowing(Self.signature + [0x21, 0x31, 0x00, 216] + [UInt8](repeating: 0x41, count: 216)))
        #expect(unix.source == nil)
    }

    @Test("version 2: a wrong version, command, family or length is an error")
    func binaryMalformed() {
        let cases: [[UInt8]] = [
            Self.signature + [0x11, 0x11, 0x00, 0x0C] + [UInt8](repeating: 1, count: 12),   // version 1 in a binary header
            Self.signature + [0x22, 0x11, 0x00, 0x0C] + [UInt8](repeating: 1, count: 12),   // command 2
            Self.signature + [0x21, 0x11, 0x00, 0x08] + [UInt8](repeating: 1, count: 8),    // too short for IPv4
            Self.signature + [0x21, 0x41, 0x00, 0x0C] + [UInt8](repeating: 1, count: 12),   // family 4
            Self.signature + [0x21, 0x11, 0xFF, 0xFF],                                        // 65,535 octets announced
            [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0B],        // signature off by one
        ]
        for bytes in cases {
            var buffer = ByteBuffer(bytes: bytes)
            #expect(throws: ProxyProtocolHeader.DecodingError.self, "\(bytes)") { try ProxyProtocolHeader.decode(&buffer) }
        }
    }
}
