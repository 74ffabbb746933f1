import NIOCore
import SMTPClient
import SMTPCore
import Testing
import TestSupport

@Suite("Client through a SOCKS5 proxy", .timeLimit(.minutes(1)))
struct ClientSOCKS5Tests {
    @Test("socks5:// URLs parse with credentials, IPv6 hosts and the default port")
    func urls() {
        #expect(SOCKS5Proxy(url: "socks5://user:p%40ss@127.0.0.1:1081") == SOCKS5Proxy(host: "127.0.0.1", port: 1081, username: "user", password: "p@ss"))
        #expect(SOCKS5Proxy(url: "user:pass@proxy.test:9050") == SOCKS5Proxy(host: "proxy.test", port: 9050, username: "user", password: "pass"))
        #expect(SOCKS5Proxy(url: "socks5://[::1]") == SOCKS5Proxy(host: "::1", port: 1080))
        #expect(SOCKS5Proxy(url: "http://proxy.test:8080") == nil)
        #expect(SOCKS5Proxy(url: "socks5://proxy.test:0") == nil)
    }

    @Test("a message through the proxy with username and password; a wrong password is refused")
    func throughProxy() async throws {
        try await withTemporaryDirectory { directory in
            guard let proxy = try PythonPeer.start(socks5ProxyScript, arguments: ["user", "secret"], in: directory) else { return }
            defer { proxy.stop() }
            try await withServer { address, recorder, _ in
                let good = SOCKS5Proxy(host: "127.0.0.1", port: proxy.port, username: "user", password: "secret")
                let client = try await Client.connect(to: .socks5(proxy: good, host: "127.0.0.1", port: address.port!, tls: false))
                #expect(client.greeting.code == 220)
                let (writer, _) = try await client.beginMessage(from: .null, to: [Address("c@d.test")!])
                try await writer.write("via socks\r\n")
                try await writer.finish()
                try await client.quit()
                #expect(recorder.messages.first?.body == "via socks\r\n")

                // A host name goes to the proxy as a name (address type 3).
                let named = try await Client.connect(to: .socks5(proxy: good, host: "localhost", port: address.port!, tls: false))
                try await named.quit()

                let bad = SOCKS5Proxy(host: "127.0.0.1", port: proxy.port, username: "user", password: "wrong")
                await #expect(throws: SMTPClientError.socks5("the proxy refused the user name or password")) {
                    _ = try await Client.connect(to: .socks5(proxy: bad, host: "127.0.0.1", port: address.port!, tls: false))
                }
                let anonymous = SOCKS5Proxy(host: "127.0.0.1", port: proxy.port)
                await #expect(throws: SMTPClientError.socks5("the proxy accepts none of the offered authentication methods")) {
                    _ = try await Client.connect(to: .socks5(proxy: anonymous, host: "127.0.0.1", port: address.port!, tls: false))
                }
            }
        }
    }
}
