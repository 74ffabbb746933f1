import NIOCore
import SMTPCore
import SMTPServer
import Testing
import TestSupport

/// Clients nobody here wrote: Python's `smtplib`.
@Suite("Python smtplib as a peer", .timeLimit(.minutes(1)))
struct PythonPeerTests {
    @Test("smtplib.SMTP sends a message with a dot-stuffed line to two recipients")
    func smtp() async throws {
        let python = try External.require("python3")
        try await withServer { address, recorder, _ in
            let script = """
            import smtplib, sys
            with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="py.test") as s:
                s.ehlo()
                assert s.has_extn("pipelining") and s.has_extn("8bitmime") and s.has_extn("chunking")
                refused = s.sendmail("alice@example.org", ["bob@example.net", "carol@example.net"],
                                     "Subject: py\\r\\n\\r\\n.starts with a dot\\r\\nend\\r\\n")
                assert refused == {}, refused
            print("ok")
            """
            let result = try await runProcess(python, ["-c", script, String(address.port ?? 0)])
            #expect(result.status == 0, "\(result.output)")
            let message = try #require(recorder.messages.first)
            #expect(message.recipients.map(\.description) == ["bob@example.net", "carol@example.net"])
            #expect(message.body == "Subject: py\r\n\r\n.starts with a dot\r\nend\r\n")
        }
    }

    @Test("smtplib.LMTP delivers over a Unix socket")
    func lmtp() async throws {
        let python = try External.require("python3")
        var behaviour = Behaviour()
        behaviour.lmtp = true
        try await withTemporaryDirectory { directory in
            let path = directory + "/lmtp.sock"
            let configuration = Server.Configuration.test(ServerConfiguration(lmtp: true, hostname: "lmtp.test"))
            try await withServer(configuration, behaviour: behaviour, endpoint: .unix(path: path)) { _, recorder, _ in
                let script = """
                import smtplib, sys
                s = smtplib.LMTP(sys.argv[1])
                refused = s.sendmail("alice@example.org", ["bob@example.net"], "Subject: lmtp\\r\\n\\r\\nhello\\r\\n")
                assert refused == {}, refused
                s.quit()
                print("ok")
                """
                let result = try await runProcess(python, ["-c", script, path])
                #expect(result.status == 0, "\(result.output)")
                #expect(recorder.messages.map(\.body) == ["Subject: lmtp\r\n\r\nhello\r\n"])
            }
        }
    }
}
