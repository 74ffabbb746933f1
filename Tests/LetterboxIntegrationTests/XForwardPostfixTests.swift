import Foundation
import NIOCore
import SMTPClient
import SMTPCore
import SMTPServer
import Testing
import TestSupport

/// Postfix's LMTP client with `lmtp_send_xforward_command = yes` in front of the library's
/// server: what Postfix sends is what an operator's backend receives.
@Suite("XFORWARD from Postfix", .serialized, .timeLimit(.minutes(3)))
struct XForwardPostfixTests {
    /// The test backend, trusting XCLIENT/XFORWARD from local sockets only (where Postfix's
    /// lmtp client connects) — the rule an operator's ProxyBackend would state.
    struct LocalProxyBackend: ProxyBackend {
        let inner: TestBackend
        func anonymousLogin(state: ConnectionState, sessionID: String) async throws -> any Session {
            try await inner.anonymousLogin(state: state, sessionID: sessionID)
        }
        func allowProxy(actual: ConnectionState, asserted: ConnectionState, sessionID: String) -> Bool {
            actual.remoteAddress == nil
        }
    }

    @Test("Postfix forwards the original client's address, HELO, protocol, source and queue id; the message arrives")
    func postfixSendsXForward() async throws {
        try await withTemporaryDirectory { directory in
            let sockets = directory + "/sockets"
            try FileManager.default.createDirectory(atPath: sockets, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
            var behaviour = Behaviour()
            behaviour.lmtp = true
            let socket = sockets + "/lmtp"
            try await withServer(.test(ServerConfiguration(lmtp: true, hostname: "lmtp.test")), behaviour: behaviour,
                                 endpoint: .unix(path: socket, mode: 0o666), backend: { LocalProxyBackend(inner: $0) }) { _, recorder, _ in
                let port = try await freeTCPPort()
                let postfix = try await PostfixInstance.start(in: directory + "/postfix", socket: socket, domains: ["x.test"], port: port,
                                                              extraSettings: ["lmtp_send_xforward_command = yes"])
                defer { Task { await postfix.stop() } }
                let client = try await Client.connect(to: .tcp(host: "127.0.0.1", port: port),
                                                      configuration: Client.Configuration(localName: "origin.test"))
                try await client.mail(from: "sender@elsewhere.test")
                try await client.rcpt(to: "bob@x.test")
                let writer = try await client.data()
                try await writer.write("Subject: forwarded\r\nMessage-ID: <xforward@elsewhere.test>\r\n\r\nbody\r\n")
                let reply = try await writer.finish()
                try await client.quit()
                let queueID = try #require(reply.lines.last?.split(separator: " ").last.map(String.init))
                #expect(try await PostfixTests.eventually { !recorder.messages.isEmpty }, "\(postfix.log)")
                let forwarded = try #require(recorder.forwarded.first, "no XFORWARD: \(postfix.log)")
                #expect(forwarded.address == "127.0.0.1")
                #expect(forwarded.helo == "origin.test")
                #expect(forwarded.proto == "ESMTP")
                // Postfix says LOCAL for mail in its local rewriting context, which a client on an
                // address of its own (local_header_rewrite_clients = permit_inet_interfaces) is.
                #expect(forwarded.isLocal == true)
                #expect(forwarded.ident == queueID)
                #expect(recorder.messages.first?.body.contains("Subject: forwarded") == true)
                await postfix.stop()
            }
        }
    }
}
