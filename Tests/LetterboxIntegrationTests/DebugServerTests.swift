import Foundation
import NIOCore
import SMTPClient
import SMTPCore
import Testing
import TestSupport

/// `letterbox debug-server` as the real binary, fed by our client and by Python's smtplib.
@Suite("letterbox debug-server", .timeLimit(.minutes(1)))
struct DebugServerTests {
    /// Waits for something to accept on `endpoint`.
    static func connect(_ endpoint: Client.Endpoint, lmtp: Bool = false) async throws -> Client {
        for _ in 0..<400 {
            if let client = try? await Client.connect(to: endpoint, configuration: Client.Configuration(lmtp: lmtp)) { return client }
            try await Task.sleep(for: .milliseconds(25))
        }
        return try await Client.connect(to: endpoint, configuration: Client.Configuration(lmtp: lmtp))
    }

    @Test("--json --lmtp on a socket: one object per message with the envelope, DSN parameters and the text")
    func jsonOverLMTP() async throws {
        try await withTemporaryDirectory { directory in
            let socket = directory + "/debug.sock"
            let server = try DebugServerProcess(["--socket", socket, "--lmtp", "--json"])
            defer { server.stop() }
            let client = try await Self.connect(.unix(path: socket), lmtp: true)
            var mail = MailOptions()
            mail.envelopeID = "env-1"
            mail.dsnReturn = .headers
            var rcpt = RcptOptions()
            rcpt.notify = [.success, .failure]
            let (writer, _) = try await client.beginMessage(from: .mailbox(Address("alice@x.test")!),
                                                            to: [Address("bob@x.test")!, Address("carol@y.test")!],
                                                            mailOptions: mail, rcptOptions: rcpt)
            try await writer.write("Subject: json\r\n\r\n.leading dot\r\n")
            #expect(try await writer.finishWithStatuses().map(\.reply.code) == [250, 250])
            let second = try await client.beginMessage(from: .null, to: [Address("dave@x.test")!])
            try await second.writer.write(ByteBuffer(bytes: [0x41, 0xFF, 0x0D, 0x0A]))
            _ = try await second.writer.finishWithStatuses()
            try await client.quit()

            let text = try await server.waitFor("\n", count: 2)
            let lines = text.split(separator: "\n")
            #expect(lines.count == 2)
            let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            #expect(first["sender"] as? String == "alice@x.test")
            #expect((first["mail_parameters"] as? [String: String])?["ENVID"] == "env-1")
            #expect((first["mail_parameters"] as? [String: String])?["RET"] == "HDRS")
            let recipients = try #require(first["recipients"] as? [[String: Any]])
            #expect(recipients.map { $0["address"] as? String } == ["bob@x.test", "carol@y.test"])
            #expect((recipients[0]["parameters"] as? [String: String])?["NOTIFY"] == "SUCCESS,FAILURE")
            #expect(first["message"] as? String == "Subject: json\r\n\r\n.leading dot\r\n")
            #expect(first["size"] as? Int == 31)
            #expect(first["client"] as? String == "local")
            // Not UTF-8: the message comes base64-encoded instead.
            let binary = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
            #expect(binary["message"] == nil)
            #expect(binary["message_base64"] as? String == Data([0x41, 0xFF, 0x0D, 0x0A]).base64EncodedString())
            #expect(binary["sender"] as? String == "")
        }
    }

    @Test("text on TCP with --auth: Python's smtplib logs in and sends; a wrong password gets 535")
    func textWithAuthFromPython() async throws {
        let python = try External.require("python3")
        let port = try await freeTCPPort()
        let server = try DebugServerProcess(["--listen", "127.0.0.1:\(port)", "--auth", "ann:secret"])
        defer { server.stop() }
        _ = try await Self.connect(.tcp(host: "127.0.0.1", port: port))
        let script = """
        import smtplib, sys
        c = smtplib.SMTP("127.0.0.1", \(port))
        c.ehlo("python.test")
        try:
            c.login("ann", "wrong")
            sys.exit("wrong password accepted")
        except smtplib.SMTPAuthenticationError as e:
            print("refused", e.smtp_code)
        c.login("ann", "secret")
        c.sendmail("alice@x.test", ["bob@x.test", "carol@x.test"], "Subject: from python\\r\\n\\r\\nline one\\r\\nline two\\r\\n")
        c.quit()
        """
        let result = try await runProcess(python, ["-c", script])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("refused 535"))
        let text = try await server.waitFor("END MESSAGE")
        #expect(text.contains("---------- MESSAGE FOLLOWS ----------"))
        #expect(text.contains("helo python.test, user ann"))
        #expect(text.contains("MAIL FROM:<alice@x.test>"))
        #expect(text.contains("RCPT TO:<bob@x.test>\nRCPT TO:<carol@x.test>\n"))
        #expect(text.contains("\nSubject: from python\n\nline one\nline two\n------------ END MESSAGE ------------\n"))
    }

    @Test("without AUTH, --auth refuses MAIL with 530; --tls-cert offers STARTTLS and the client's TLS is printed")
    func authRequiredAndTLS() async throws {
        try await withTemporaryDirectory { directory in
            _ = try TestCertificate.make(in: directory)
            let port = try await freeTCPPort()
            let server = try DebugServerProcess(["--listen", "127.0.0.1:\(port)", "--auth", "ann:secret",
                                      "--tls-cert", directory + "/cert.pem", "--tls-key", directory + "/key.pem"])
            defer { server.stop() }
            let client = try await Self.connect(.tcp(host: "127.0.0.1", port: port))
            do {
                try await client.mail(from: .mailbox(Address("alice@x.test")!))
                Issue.record("MAIL without AUTH was accepted")
            } catch let error as SMTPError {
                #expect(error.code == 530)
            }
            try await client.quit()

            let python = try External.require("python3")
            let script = """
            import smtplib, ssl
            c = smtplib.SMTP("127.0.0.1", \(port))
            c.starttls(context=ssl._create_unverified_context())
            c.login("ann", "secret")
            c.sendmail("alice@x.test", ["bob@x.test"], "Subject: over tls\\r\\n\\r\\nsecret\\r\\n")
            c.quit()
            """
            let result = try await runProcess(python, ["-c", script])
            #expect(result.status == 0, "\(result.output)")
            let text = try await server.waitFor("END MESSAGE")
            #expect(text.contains("tls TLSv1.3, user ann") || text.contains("tls TLSv1.2, user ann"), "\(text)")
        }
    }
}

/// The running server and everything it has printed on standard output.
/// `letterbox debug-server` running for one test.
final class DebugServerProcess: Sendable {
    let process: ChildProcess

    init(_ arguments: [String]) throws {
        process = try ChildProcess(letterboxExecutable(), ["debug-server"] + arguments, standardError: .null)
    }

    /// Waits up to 10 s for `count` occurrences of `marker` in the output.
    func waitFor(_ marker: String, count: Int = 1) async throws -> String {
        try await process.waitForOutput(marker, count: count)
    }

    func stop() {
        process.signal(SIGTERM)
    }
}
