import NIOCore
import SMTPCore
import SMTPServer
import Synchronization
import Testing
import TestSupport

/// A backend that lets proxies assert client facts, recording what it was asked.
final class ProxyingBackend: ProxyBackend {
    let inner: TestBackend
    let allow: Bool
    let asked = Mutex<[(actual: ConnectionState, asserted: ConnectionState)]>([])
    let sessionStates = Mutex<[ConnectionState]>([])

    init(_ inner: TestBackend, allow: Bool) {
        self.inner = inner
        self.allow = allow
    }

    func allowProxy(actual: ConnectionState, asserted: ConnectionState, sessionID: String) -> Bool {
        asked.withLock { $0.append((actual, asserted)) }
        return allow
    }

    func anonymousLogin(state: ConnectionState, sessionID: String) async throws -> any Session {
        sessionStates.withLock { $0.append(state) }
        return try await inner.anonymousLogin(state: state, sessionID: sessionID)
    }
}

/// A server whose backend is a ``ProxyingBackend`` (allowing every proxy, or none), handed to
/// `body` for what it was asked.
func withProxyingServer(allow: Bool = true, _ configuration: Server.Configuration = .test(),
                        endpoint: Server.Endpoint = .tcp(host: "127.0.0.1", port: 0), proxyProtocol: Server.ProxyProtocol? = nil,
                        _ body: (SocketAddress, Recorder, ProxyingBackend) async throws -> Void) async throws {
    let holder = Mutex<ProxyingBackend?>(nil)
    try await withServer(configuration, endpoint: endpoint, proxyProtocol: proxyProtocol, backend: { inner in
        let backend = ProxyingBackend(inner, allow: allow)
        holder.withLock { $0 = backend }
        return backend
    }) { address, recorder, _ in
        try await body(address, recorder, try #require(holder.withLock { $0 }))
    }
}

@Suite("XCLIENT", .timeLimit(.minutes(1)))
struct XClientTests {
    @Test("a permitted proxy asserts the client; the greeting is re-sent and the real state kept as original")
    func permitted() async throws {
        try await withProxyingServer { address, recorder, backend in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.line("EHLO proxy.test")
                #expect(try await client.readReply().contains("250-XCLIENT NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT"))
                #expect(try await client.command("XCLIENT ADDR=192.0.2.7 PORT=4242 NAME=client.example HELO=[UNAVAILABLE]")
                        == "220 mx.test ESMTP Letterbox")
                #expect(try await client.command("MAIL FROM:<a@b.test>") == "503 5.5.1 Error: send HELO/EHLO first")
                try await client.line("EHLO real-client.example")
                _ = try await client.readReply()
                #expect(try await client.command("MAIL FROM:<a@b.test>") == "250 2.1.0 Ok")
            }
            let sessionState = try #require(backend.sessionStates.withLock { $0.first })
            #expect(sessionState.remoteAddress?.ipAddress == "192.0.2.7")
            #expect(sessionState.remoteAddress?.port == 4242)
            #expect(sessionState.proxied["NAME"] == "client.example")
            #expect(sessionState.hostname == "real-client.example")
            #expect(sessionState.original?.value.remoteAddress?.ipAddress == "127.0.0.1")
            _ = recorder
        }
    }

    @Test("a proxy the backend refuses gets 550 5.7.0")
    func denied() async throws {
        try await withServer(backend: { ProxyingBackend($0, allow: false) }) { address, _, _ in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.command("HELO p")
                #expect(try await client.command("XCLIENT ADDR=192.0.2.7") == "550 5.7.0 Error: insufficient authorization")
                #expect(try await client.command("MAIL FROM:<a@b.test>") == "250 2.1.0 Ok")
            }
        }
    }

    @Test("without a ProxyBackend XCLIENT is neither offered nor accepted")
    func notOffered() async throws {
        try await withServer { address, _, _ in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.line("EHLO p")
                #expect(!(try await client.readReply()).contains { $0.contains("XCLIENT") })
                #expect(try await client.command("XCLIENT ADDR=192.0.2.7") == "550 5.7.0 Error: insufficient authorization")
            }
        }
    }

    @Test("XFORWARD follows XCLIENT's trust rule: the backend is asked about the client described, the connection stays as it is")
    func xforward() async throws {
        try await withProxyingServer { address, recorder, backend in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.line("EHLO mta.test")
                #expect(try await client.readReply().last == "250 XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE")
                let first = try await client.command("XFORWARD NAME=origin.example ADDR=192.0.2.9 PORT=5001 PROTO=ESMTP")
                #expect(first == "250 2.0.0 Ok")
                #expect(try await client.command("XFORWARD HELO=origin.example IDENT=4QxYz1 SOURCE=REMOTE") == "250 2.0.0 Ok")
                #expect(try await client.command("MAIL FROM:<a@b.test>") == "250 2.1.0 Ok")
                #expect(try await client.command("RCPT TO:<c@d.test>") == "250 2.1.5 Ok")
                #expect(try await client.command("DATA") == "354 End data with <CR><LF>.<CR><LF>")
                #expect(try await client.command("Subject: x\r\n\r\nbody\r\n.") == "250 2.0.0 Ok: queued")
                // Forgotten with the transaction: the next one has no XFORWARD of its own.
                #expect(try await client.command("MAIL FROM:<a@b.test>") == "250 2.1.0 Ok")
            }
            let asked = try #require(backend.asked.withLock { $0.first })
            #expect(asked.asserted.remoteAddress?.ipAddress == "192.0.2.9" && asked.actual.remoteAddress?.ipAddress == "127.0.0.1")
            // The session's own view of the connection is unchanged.
            #expect(backend.sessionStates.withLock { $0.first?.remoteAddress?.ipAddress } == "127.0.0.1")
            let forwarded = recorder.forwarded
            #expect(forwarded.count == 1)
            #expect(forwarded.first?.address == "192.0.2.9" && forwarded.first?.port == 5001 && forwarded.first?.ident == "4QxYz1")
            #expect(forwarded.first?.name == "origin.example" && forwarded.first?.isLocal == false)
        }
        try await withServer(backend: { ProxyingBackend($0, allow: false) }) { address, recorder, _ in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.line("EHLO mta.test")
                _ = try await client.readReply()
                #expect(try await client.command("XFORWARD ADDR=192.0.2.9") == "550 5.7.0 Error: insufficient authorization")
                #expect(try await client.command("MAIL FROM:<a@b.test>") == "250 2.1.0 Ok")
            }
            #expect(recorder.forwarded.isEmpty)
        }
    }

    @Test("malformed XCLIENT commands", arguments: [
        ("XCLIENT", "501 5.5.4 Syntax: XCLIENT attribute=value ..."),
        ("XCLIENT COLOR=red", "501 5.5.4 Bad XCLIENT attribute name: COLOR=red"),
        ("XCLIENT ADDR=300.1.2.3", "501 5.5.4 Bad XCLIENT attribute value: ADDR=300.1.2.3"),
        ("XCLIENT PORT=99999", "501 5.5.4 Bad XCLIENT attribute value: PORT=99999"),
    ])
    func malformed(line: String, reply: String) async throws {
        try await withServer(backend: { ProxyingBackend($0, allow: true) }) { address, _, _ in
            try await TestClient.with(address) { client in
                try await client.reply()
                #expect(try await client.command(line) == reply)
            }
        }
    }
}
