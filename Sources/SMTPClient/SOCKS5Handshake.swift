import NIOCore

/// The client side of a SOCKS5 CONNECT (RFC 1928), with username/password authentication
/// (RFC 1929) when the proxy has credentials. swift-nio-extras' handler offers no RFC 1929, so
/// the exchange is done here, over the connection's own transport, before SMTP begins.
struct SOCKS5Handshake {
    let proxy: SOCKS5Proxy
    let host: String
    let port: Int

    /// RFC 1928 §6 reply codes.
    static func describe(reply code: UInt8) -> String {
        switch code {
        case 1: return "general SOCKS server failure"
        case 2: return "connection not allowed by ruleset"
        case 3: return "network unreachable"
        case 4: return "host unreachable"
        case 5: return "connection refused"
        case 6: return "TTL expired"
        case 7: return "command not supported"
        case 8: return "address type not supported"
        default: return "reply code \(code)"
        }
    }

    /// The CONNECT request's address: an IPv4 or IPv6 literal, else a domain name (§5).
    func destination() throws -> [UInt8] {
        if let address = try? SocketAddress(ipAddress: host, port: port) {
            switch address {
            case .v4(let v4):
                return [1] + withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
            case .v6(let v6):
                return [4] + withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            case .unixDomainSocket:
                break
            }
        }
        let name = Array(host.utf8)
        guard (1...255).contains(name.count) else { throw SMTPClientError.socks5("host name too long for SOCKS5") }
        return [3, UInt8(name.count)] + name
    }

    func run(over transport: ClientTransport, timeout: TimeAmount) async throws {
        guard (1...65535).contains(port) else { throw SMTPClientError.socks5("invalid port \(port)") }
        let credentials: (user: [UInt8], password: [UInt8])?
        if let username = proxy.username {
            let user = Array(username.utf8), password = Array((proxy.password ?? "").utf8)
            guard (1...255).contains(user.count), password.count <= 255 else {
                throw SMTPClientError.socks5("user name or password too long for RFC 1929")
            }
            credentials = (user, password)
        } else {
            credentials = nil
        }
        // Method selection (§3): no authentication, or username/password (0x02).
        let methods: [UInt8] = credentials == nil ? [0x00] : [0x02]
        try await transport.write(ByteBuffer(bytes: [5, UInt8(methods.count)] + methods))
        let selection = try await transport.readBytes(2, timeout: timeout)
        guard selection[0] == 5 else { throw SMTPClientError.socks5("not a SOCKS5 proxy") }
        switch selection[1] {
        case 0x00 where credentials == nil:
            break
        case 0x02:
            guard let credentials else { throw SMTPClientError.socks5("the proxy wants a user name and password") }
            // RFC 1929 §2: VER=1, ULEN, UNAME, PLEN, PASSWD; reply VER, STATUS (0 = success).
            var request: [UInt8] = [1, UInt8(credentials.user.count)] + credentials.user
            request += [UInt8(credentials.password.count)] + credentials.password
            try await transport.write(ByteBuffer(bytes: request))
            let status = try await transport.readBytes(2, timeout: timeout)
            guard status[1] == 0 else { throw SMTPClientError.socks5("the proxy refused the user name or password") }
        case 0xFF:
            throw SMTPClientError.socks5("the proxy accepts none of the offered authentication methods")
        default:
            throw SMTPClientError.socks5("the proxy chose an authentication method that was not offered")
        }
        // CONNECT (§4): VER, CMD=1, RSV, ATYP, DST.ADDR, DST.PORT.
        let request: [UInt8] = [5, 1, 0] + (try destination()) + [UInt8(port >> 8), UInt8(port & 0xFF)]
        try await transport.write(ByteBuffer(bytes: request))
        let head = try await transport.readBytes(4, timeout: timeout)
        guard head[0] == 5 else { throw SMTPClientError.socks5("malformed reply from the proxy") }
        guard head[1] == 0 else { throw SMTPClientError.socks5(Self.describe(reply: head[1])) }
        // BND.ADDR and BND.PORT follow; their length depends on the address type.
        let addressLength: Int
        switch head[3] {
        case 1: addressLength = 4
        case 4: addressLength = 16
        case 3: addressLength = Int(try await transport.readBytes(1, timeout: timeout)[0])
        default: throw SMTPClientError.socks5("malformed reply from the proxy")
        }
        _ = try await transport.readBytes(addressLength + 2, timeout: timeout)
    }
}
