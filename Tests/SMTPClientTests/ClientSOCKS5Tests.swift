import NIOCore
import SMTPClient
import SMTPCore
import SMTPServer
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
            let proxy = try await PythonPeer.start(socks5ProxyScript, arguments: ["user", "secret"], in: directory)
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

    @Test("a proxy without authentication, with TLS from the first byte through it")
    func anonymousProxyWithTLS() async throws {
        try await withTemporaryDirectory { directory in
            let certificate = try TestCertificate.make(in: directory)
            let proxy = try await PythonPeer.start(socks5ProxyScript, arguments: ["-", "-"], in: directory)
            defer { proxy.stop() }
            var configuration = Server.Configuration.test(ServerConfiguration(hostname: "mx.test"))
            configuration.tls = try certificate.serverContext()
            try await withServer(configuration, endpoint: .tls(host: "127.0.0.1", port: 0)) { address, _, _ in
                let client = try await Client.connect(
                    to: .socks5(proxy: SOCKS5Proxy(host: "127.0.0.1", port: proxy.port), host: "127.0.0.1", port: address.port!, tls: true),
                    configuration: ClientSecurityTests.clientConfiguration(certificate))
                #expect(client.tlsConnectionState != nil)
                try await client.noop()
                try await client.quit()
            }
        }
    }

    @Test("a proxy that never answers: the connect timeout applies to the handshake")
    func silentProxy() async throws {
        let silent = try await ScriptedServer.start(greeting: "") { _ in nil }
        defer { Task { await silent.stop() } }
        var configuration = Client.Configuration()
        configuration.connectTimeout = .milliseconds(300)
        await #expect(throws: SMTPClientError.timeout) {
            _ = try await Client.connect(to: .socks5(proxy: SOCKS5Proxy(host: "127.0.0.1", port: silent.port),
                                                     host: "127.0.0.1", port: 25, tls: false),
                                         configuration: configuration)
        }
    }
}
