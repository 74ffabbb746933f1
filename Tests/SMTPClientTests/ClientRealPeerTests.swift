import Foundation
import NIOCore
import SASL
import SMTPClient
import SMTPCore
import Testing
import TestSupport

/// An aiosmtpd server (PyPI) with AUTH PLAIN/LOGIN for `user`/`secret` and SMTPUTF8; each
/// message is appended to `<port file>.messages` as one JSON object.
let aiosmtpdScript = #"""
import json, socket, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port_file = sys.argv[1]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        record = {"from": envelope.mail_from, "to": envelope.rcpt_tos, "options": envelope.mail_options,
                  "authenticated": bool(session.authenticated),
                  "login": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
                  "content": envelope.original_content.decode("utf-8", "replace")}
        with open(port_file + ".messages", "a") as f:
            f.write(json.dumps(record) + "\n")
        return "250 2.0.0 OK"

def authenticate(server, session, envelope, mechanism, data):
    if isinstance(data, LoginPassword) and data.login == b"user" and data.password == b"secret":
        return AuthResult(success=True, auth_data=data)
    return AuthResult(success=False, handled=False)

probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
controller = Controller(Handler(), hostname="127.0.0.1", port=port, authenticator=authenticate,
                        auth_require_tls=False, enable_SMTPUTF8=True)
controller.start()
with open(port_file + ".tmp", "w") as f:
    f.write(str(port))
import os
os.rename(port_file + ".tmp", port_file)
while True:
    time.sleep(3600)
"""#

@Suite("Client against servers nobody here wrote", .timeLimit(.minutes(1)))
struct ClientRealPeerTests {
    /// Runs Postfix's smtp-sink on a Unix socket, dumping transactions to a file.
    func withSink(lmtp: Bool, _ body: (String, String) async throws -> Void) async throws {
        let sink = try External.require("smtp-sink")
        try await withTemporaryDirectory { directory in
            chmod(directory, 0o777)   // smtp-sink writes its dump as nobody
            let socket = directory + "/sink.sock"
            let dump = directory + "/dump"
            let process = try ChildProcess(sink, (lmtp ? ["-L"] : []) + ["-u", "nobody", "-D", dump, "unix:" + socket, "16"])
            defer { process.signal(SIGKILL) }
            // smtp-sink binds (the file appears) before it listens: wait until it accepts.
            var listening = false
            for _ in 0..<200 where !listening {
                if let probe = try? await Client.connect(to: .unix(path: socket)) {
                    await probe.close()
                    listening = true
                } else {
                    try await Task.sleep(for: .milliseconds(25))
                }
            }
            try await body(socket, dump)
        }
    }

    @Test("Postfix smtp-sink, SMTP: a pipelined two-recipient message")
    func smtpSink() async throws {
        try await withSink(lmtp: false) { socket, dump in
            let client = try await Client.connect(to: .unix(path: socket))
            let pipelining = try await client.extension("PIPELINING")
            #expect(pipelining != nil)
            let (writer, statuses) = try await client.beginMessage(from: .mailbox(Address("a@b.test")!),
                                                                   to: [Address("c@d.test")!, Address("e@d.test")!])
            #expect(statuses.allSatisfy { $0.accepted })
            try await writer.write("Subject: to the sink\r\n\r\n.dot line\r\n")
            #expect(try await writer.finish().code == 250)
            try await client.quit()
            try await Task.sleep(for: .milliseconds(100))
            let content = (try? String(contentsOfFile: dump, encoding: .utf8)) ?? ""
            #expect(content.contains("Subject: to the sink"))
            #expect(content.contains("\n.dot line"))
        }
    }

    @Test("Postfix smtp-sink: xclient and xforward with the attributes it lists, a raw command, and the parameters it does not offer dropped")
    func sinkExtensions() async throws {
        try await withSink(lmtp: false) { socket, dump in
            let client = try await Client.connect(to: .unix(path: socket))
            // smtp-sink lists XCLIENT NAME HELO and XFORWARD NAME ADDR PROTO HELO, and answers 250.
            try await client.xclient([("NAME", "client.example"), ("HELO", "client.example")])
            await #expect(throws: SMTPClientError.extensionNotSupported("XCLIENT ADDR")) { try await client.xclient([("ADDR", "192.0.2.9")]) }
            try await client.xforward([XForwardAttribute(name: .address, value: .value("192.0.2.10")),
                                       XForwardAttribute(name: .proto, value: .value("ESMTP"))])
            await #expect(throws: SMTPClientError.extensionNotSupported("XFORWARD IDENT")) {
                try await client.xforward([XForwardAttribute(name: .ident, value: .value("q1"))])
            }
            let etrn = try await client.rawCommand("ETRN example.com")
            #expect(etrn.code == 500)
            try await client.mail(from: "a@b.test", options: MailOptions(deliverBy: DeliverBy(seconds: 60, mode: .notify), priority: 3))
            try await client.rcpt(to: "c@d.test")
            let writer = try await client.data()
            try await writer.write("Subject: extensions\r\n\r\nbody\r\n")
            #expect(try await writer.finish().code == 250)
            try await client.quit()
            try await Task.sleep(for: .milliseconds(100))
            let content = (try? String(contentsOfFile: dump, encoding: .utf8)) ?? ""
            #expect(content.contains("X-Mail-Args: <a@b.test> BODY=8BITMIME\n"), "\(content)")
        }
    }

    @Test("Postfix smtp-sink, LMTP: one status per recipient")
    func lmtpSink() async throws {
        try await withSink(lmtp: true) { socket, _ in
            let client = try await Client.connect(to: .unix(path: socket), configuration: Client.Configuration(lmtp: true))
            let (writer, _) = try await client.beginMessage(from: .null, to: [Address("c@d.test")!, Address("e@d.test")!, Address("f@d.test")!])
            try await writer.write("lmtp body\r\n")
            let statuses = try await writer.finishWithStatuses()
            #expect(statuses.map(\.reply.code) == [250, 250, 250])
            try await client.quit()
        }
    }

    @Test("aiosmtpd: AUTH PLAIN and LOGIN, a refused password, and an SMTPUTF8 transaction")
    func aiosmtpd() async throws {
        try await withTemporaryDirectory { directory in
            let peer = try await PythonPeer.start(aiosmtpdScript, in: directory)
            defer { peer.stop() }
            let endpoint = Client.Endpoint.tcp(host: "127.0.0.1", port: peer.port)
            let refused = try await Client.connect(to: endpoint)
            await #expect(throws: SMTPError.self) { try await refused.auth(PlainClient(username: "user", password: "nope")) }
            try await refused.auth(LoginClient(username: "user", password: "secret"))
            try await refused.quit()

            let statuses = try await Client.sendMail(to: endpoint, auth: PlainClient(username: "user", password: "secret"),
                                                     from: .mailbox(Address("jöran@exämple.test")!), to: [Address("ünïcode@example.test")!],
                                                     message: ByteBuffer(string: "Subject: Grüße\r\n\r\nHallo\r\n"))
            #expect(statuses.map(\.reply.code) == [250])
            let lines = try String(contentsOfFile: directory + "/" + (try FileManager.default.contentsOfDirectory(atPath: directory)
                .first { $0.hasSuffix(".messages") } ?? "missing"), encoding: .utf8).split(separator: "\n")
            let record = try #require(lines.first.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
            #expect(record["from"] as? String == "jöran@exämple.test")
            #expect(record["to"] as? [String] == ["ünïcode@example.test"])
            #expect((record["options"] as? [String])?.contains("SMTPUTF8") == true)
            #expect(record["authenticated"] as? Bool == true)
            #expect(record["login"] as? String == "user")
            #expect((record["content"] as? String)?.contains("Subject: Grüße") == true)
        }
    }
}
