import NIOCore

/// The header a load balancer such as HAProxy puts in front of a proxied connection, PROXY
/// protocol version 1 (text) or 2 (binary) (HAProxy's proxy-protocol.txt): the addresses of
/// the client and of the server it connected to.
public struct ProxyProtocolHeader: Hashable, Sendable {
    /// Which of the two versions the header was.
    public enum Version: Int, Hashable, Sendable {
        /// `PROXY TCP4 … \r\n`, one line of text (§2.1).
        case one = 1
        /// The binary header after its 12-octet signature (§2.2).
        case two = 2
    }

    /// The version the sender used.
    public var version: Version
    /// The original client's address and port; `nil` when the header carries none — version 2's
    /// LOCAL command (the proxy's own health check), `PROXY UNKNOWN`, or a family other than
    /// TCP over IPv4 or IPv6 — and the connection's own address stands (§2.1, §2.2).
    public var source: SocketAddress?
    /// The address and port the client connected to, when `source` is known.
    public var destination: SocketAddress?

    /// A header.
    public init(version: Version, source: SocketAddress?, destination: SocketAddress?) {
        self.version = version
        self.source = source
        self.destination = destination
    }

    /// Why a connection's first octets are not a PROXY header.
    public struct DecodingError: Error, Hashable, Sendable, CustomStringConvertible {
        /// What was wrong.
        public var description: String
    }

    /// The longest version 1 header, CRLF included (§2.1).
    static let longestTextHeader = 107
    /// The largest version 2 header accepted: the address block of a Unix-socket pair (216
    /// octets) and room for the TLVs HAProxy adds (SSL facts, unique ids).
    static let largestBinaryHeader = 16 + 2048
    static let binarySignature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    static let textSignature = Array("PROXY ".utf8)

    /// Reads a header from the front of `buffer`: the header when it is complete (its octets
    /// consumed, what follows left in `buffer`), `nil` when more octets are needed, and an error
    /// as soon as the octets cannot start one or break its rules.
    public static func decode(_ buffer: inout ByteBuffer) throws(DecodingError) -> ProxyProtocolHeader? {
        let available = buffer.readableBytesView
        guard let first = available.first else { return nil }
        if first == binarySignature[0] {
            return try decodeBinary(&buffer)
        }
        return try decodeText(&buffer)
    }

    private static func failure(_ text: String) -> DecodingError { DecodingError(description: text) }

    /// §2.1: `PROXY TCP4|TCP6 src dst sport dport\r\n` or `PROXY UNKNOWN…\r\n`.
    private static func decodeText(_ buffer: inout ByteBuffer) throws(DecodingError) -> ProxyProtocolHeader? {
        let view = buffer.readableBytesView
        let prefix = min(view.count, textSignature.count)
        guard view.prefix(prefix).elementsEqual(textSignature.prefix(prefix)) else {
            throw failure("not a PROXY protocol header")
        }
        guard let lineFeed = view.prefix(longestTextHeader).firstIndex(of: 0x0A) else {
            if view.count >= longestTextHeader { throw failure("PROXY header longer than \(longestTextHeader) octets") }
            return nil
        }
        let length = lineFeed - view.startIndex + 1
        guard length >= 2, view[lineFeed - 1] == 0x0D else { throw failure("PROXY header does not end with CRLF") }
        let line = String(decoding: view.prefix(length - 2), as: UTF8.self)
        let words = line.split(separator: " ", omittingEmptySubsequences: false)
        guard words.count >= 2 else { throw failure("PROXY header without a protocol") }
        if words[1] == "UNKNOWN" {
            buffer.moveReaderIndex(forwardBy: length)
            return ProxyProtocolHeader(version: .one, source: nil, destination: nil)
        }
        guard words[1] == "TCP4" || words[1] == "TCP6", words.count == 6 else {
            throw failure("PROXY header is not TCP4, TCP6 or UNKNOWN with four fields")
        }
        let isIPv6 = words[1] == "TCP6"
        func address(_ host: Substring, _ port: Substring) throws(DecodingError) -> SocketAddress {
            let hostValid = isIPv6 ? AddressLiteral.isIPv6(host) : AddressLiteral.isIPv4(host)
            // Ports in decimal, 0…65535, no leading zeros (§2.1).
            guard hostValid, (1...5).contains(port.utf8.count), port.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  port == "0" || port.first != "0", let number = Int(port), number <= 65535,
                  let socketAddress = try? SocketAddress(ipAddress: String(host), port: number) else {
                throw failure("PROXY header with a bad address: \(host) \(port)")
            }
            return socketAddress
        }
        let source = try address(words[2], words[4])
        let destination = try address(words[3], words[5])
        buffer.moveReaderIndex(forwardBy: length)
        return ProxyProtocolHeader(version: .one, source: source, destination: destination)
    }

    /// §2.2: the signature, version and command, family and transport, length, addresses, TLVs.
    private static func decodeBinary(_ buffer: inout ByteBuffer) throws(DecodingError) -> ProxyProtocolHeader? {
        let view = buffer.readableBytesView
        let prefix = min(view.count, binarySignature.count)
        guard view.prefix(prefix).elementsEqual(binarySignature.prefix(prefix)) else {
            throw failure("not a PROXY protocol header")
        }
        guard view.count >= 16 else { return nil }
        let start = view.startIndex
        let versionCommand = view[start + 12], familyTransport = view[start + 13]
        let length = Int(view[start + 14]) << 8 | Int(view[start + 15])
        guard versionCommand >> 4 == 2 else { throw failure("PROXY header version \(versionCommand >> 4), not 2") }
        let command = versionCommand & 0x0F
        guard command <= 1 else { throw failure("PROXY header command \(command), neither LOCAL nor PROXY") }
        guard 16 + length <= largestBinaryHeader else { throw failure("PROXY header of \(16 + length) octets") }
        guard view.count >= 16 + length else { return nil }
        let block = Array(view[(start + 16)..<(start + 16 + length)])
        buffer.moveReaderIndex(forwardBy: 16 + length)
        // LOCAL (0): the proxy speaking for itself; the addresses are to be ignored.
        guard command == 1 else { return ProxyProtocolHeader(version: .two, source: nil, destination: nil) }
        let family = familyTransport >> 4, transport = familyTransport & 0x0F
        func port(_ offset: Int) -> Int { Int(block[offset]) << 8 | Int(block[offset + 1]) }
        switch (family, transport) {
        case (0x1, 0x1):
            guard block.count >= 12 else { throw failure("PROXY header too short for TCP over IPv4") }
            return ProxyProtocolHeader(version: .two, source: try ipAddress(block[0..<4], port: port(8)),
                                       destination: try ipAddress(block[4..<8], port: port(10)))
        case (0x2, 0x1):
            guard block.count >= 36 else { throw failure("PROXY header too short for TCP over IPv6") }
            return ProxyProtocolHeader(version: .two, source: try ipAddress(block[0..<16], port: port(32)),
                                       destination: try ipAddress(block[16..<32], port: port(34)))
        case (0x0...0x3, 0x0...0x2):
            // UNSPEC, Unix sockets, datagrams: nothing an SMTP server can use as a client's
            // address; the connection's own stands (§2.2: "the receiver should ignore").
            return ProxyProtocolHeader(version: .two, source: nil, destination: nil)
        default:
            throw failure("PROXY header with address family \(family), transport \(transport)")
        }
    }

    private static func ipAddress(_ octets: ArraySlice<UInt8>, port: Int) throws(DecodingError) -> SocketAddress {
        do {
            return try SocketAddress(packedIPAddress: ByteBuffer(bytes: octets), port: port)
        } catch {
            throw failure("PROXY header with a bad address")
        }
    }
}
