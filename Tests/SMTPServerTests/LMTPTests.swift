import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import SMTPCore
import SMTPServer
import Testing
import TestSupport

@Suite("LMTP over a Unix socket", .timeLimit(.minutes(1)))
struct LMTPTests {
    static let lmtp = Server.Configuration.test(ServerConfiguration(lmtp: true, hostname: "lmtp.test"))

    func withLMTP<T>(_ behaviour: Behaviour, _ body: (SocketAddress, Recorder) async throws -> T) async throws -> T {
        var behaviour = behaviour
        behaviour.lmtp = true
        return try await withTemporaryDirectory { directory in
            try await withServer(Self.lmtp, behaviour: behaviour, endpoint: .unix(path: directory + "/lmtp.sock")) { address, recorder, _ in
                try await body(address, recorder)
            }
        }
    }

    @Test("one reply per accepted recipient, in RCPT order, duplicates included")
    func perRecipient() async throws {
        var behaviour = Behaviour()
        behaviour.rejectRecipient = { $0.localPart == "unknown" ? SMTPError(code: 550, enhancedCode: EnhancedCode(5, 1, 1), message: "unknown user") : nil }
        behaviour.lmtpStatuses = { recipient in
            recipient.localPart == "full" ? .some(SMTPError(code: 452, enhancedCode: EnhancedCode(4, 2, 2), message: "mailbox full")) : .some(nil)
        }
        try await withLMTP(behaviour) { address, recorder in
            try await TestClient.with(address) { client in
                #expect(try await client.reply() == "220 lmtp.test LMTP Letterbox")
                #expect(try await client.command("EHLO c") == "500 5.5.1 Error: this is an LMTP server, use LHLO")
                try await client.line("LHLO mta.test")
                #expect(try await client.readReply().first == "250-lmtp.test")
                try await client.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<one@d.test>\r\nRCPT TO:<unknown@d.test>\r\n"
                                      + "RCPT TO:<full@d.test>\r\nRCPT TO:<one@d.test>\r\nDATA\r\n")
                #expect(try await client.reply() == "250 2.1.0 Ok")
                #expect(try await client.reply() == "250 2.1.5 Ok")
                #expect(try await client.reply() == "550 5.1.1 unknown user")
                #expect(try await client.reply() == "250 2.1.5 Ok")
                #expect(try await client.reply() == "250 2.1.5 Ok")
                #expect(try await client.reply().hasPrefix("354"))
                try await client.send("Subject: x\r\n\r\nhello\r\n.\r\n")
                #expect(try await client.reply() == "250 2.0.0 <one@d.test> Ok")
                #expect(try await client.reply() == "452 4.2.2 mailbox full")
                #expect(try await client.reply() == "250 2.0.0 <one@d.test> Ok")
                #expect(try await client.command("NOOP") == "250 2.0.0 Ok")
            }
            #expect(recorder.messages.first?.recipients.count == 3)
        }
    }

    @Test("statuses set before the body is read are sent after its end; unset ones get the call's outcome")
    func earlyStatuses() async throws {
        var behaviour = Behaviour()
        behaviour.statusesBeforeBody = true
        behaviour.lmtpStatuses = { recipient in
            recipient.localPart == "first" ? .some(nil) : .none
        }
        try await withLMTP(behaviour) { address, _ in
            try await TestClient.with(address) { client in
                try await client.reply()
                _ = try await client.line("LHLO mta.test")
                _ = try await client.readReply()
                try await client.command("MAIL FROM:<>")
                try await client.command("RCPT TO:<first@d.test>")
                try await client.command("RCPT TO:<second@d.test>")
                try await client.command("DATA")
                try await client.send("body\r\n.\r\n")
                #expect(try await client.reply() == "250 2.0.0 <first@d.test> Ok")
                #expect(try await client.reply() == "250 2.0.0 <second@d.test> Ok")
            }
        }
    }

    @Test("a whole-message failure is repeated for every recipient")
    func failureForAll() async throws {
        var behaviour = Behaviour()
        behaviour.failDataEarly = SMTPError(code: 451, enhancedCode: EnhancedCode(4, 3, 0), message: "try later")
        try await withLMTP(behaviour) { address, _ in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.line("LHLO mta.test")
                _ = try await client.readReply()
                try await client.send("MAIL FROM:<>\r\nRCPT TO:<x@d.test>\r\nRCPT TO:<y@d.test>\r\nDATA\r\n")
                for _ in 0..<4 { try await client.reply() }
                try await client.send(String(repeating: "data\r\n", count: 1000) + ".\r\n")
                #expect(try await client.reply() == "451 4.3.0 try later")
                #expect(try await client.reply() == "451 4.3.0 try later")
                #expect(try await client.command("NOOP") == "250 2.0.0 Ok")
            }
        }
    }

    @Test("BDAT LAST in LMTP gives one reply per recipient")
    func bdatLMTP() async throws {
        try await withLMTP(Behaviour()) { address, recorder in
            try await TestClient.with(address) { client in
                try await client.reply()
                try await client.line("LHLO mta.test")
                _ = try await client.readReply()
                try await client.send("MAIL FROM:<>\r\nRCPT TO:<x@d.test>\r\nRCPT TO:<y@d.test>\r\nBDAT 4 LAST\r\nabcd")
                for _ in 0..<3 { try await client.reply() }
                #expect(try await client.reply() == "250 2.0.0 <x@d.test> Ok")
                #expect(try await client.reply() == "250 2.0.0 <y@d.test> Ok")
            }
            #expect(recorder.messages.map(\.body) == ["abcd"])
        }
    }

    @Test("the socket gets its mode; a stale socket file is replaced, a live one is not")
    func socketFile() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/lmtp.sock"
            try await withServer(Self.lmtp, endpoint: .unix(path: path, mode: 0o600)) { _, _, _ in
                let attributes = try FileManager.default.attributesOfItem(atPath: path)
                #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
                // A second server must not steal a socket that is in use.
                let second = Server(backend: TestBackend(recorder: Recorder(), behaviour: Behaviour()), configuration: Self.lmtp)
                await #expect(throws: Server.ListenError.socketInUse(path)) {
                    try await second.listen(.unix(path: path))
                }
            }
            // A stale socket file: bound, never listened on, closed without unlinking.
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            try SocketAddress(unixDomainSocketPath: path).withSockAddr { pointer, length in
                #expect(bind(fd, pointer, socklen_t(length)) == 0)
            }
            close(fd)
            #expect(FileManager.default.fileExists(atPath: path))
            try await withServer(Self.lmtp, endpoint: .unix(path: path)) { address, _, _ in
                let greeting = try await TestClient.with(address) { client in try await client.reply() }
                #expect(greeting.hasPrefix("220 "))
            }
        }
    }
}

@Suite("Socket activation", .timeLimit(.minutes(1)))
struct SocketActivationTests {
    @Test("an inherited listening descriptor is served")
    func inherited() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/activated.sock"
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            try SocketAddress(unixDomainSocketPath: path).withSockAddr { pointer, length in
                #expect(bind(fd, pointer, socklen_t(length)) == 0)
            }
            #expect(listen(fd, 16) == 0)
            var behaviour = Behaviour()
            behaviour.lmtp = true
            let configuration = Server.Configuration.test(ServerConfiguration(lmtp: true, hostname: "lmtp.test"))
            try await withServer(configuration, behaviour: behaviour, endpoint: .inherited(descriptor: fd)) { _, recorder, _ in
                try await TestClient.with(try SocketAddress(unixDomainSocketPath: path)) { client in
                    #expect(try await client.reply() == "220 lmtp.test LMTP Letterbox")
                    try await client.line("LHLO mta.test")
                    _ = try await client.readReply()
                    try await client.send("MAIL FROM:<>\r\nRCPT TO:<x@d.test>\r\nDATA\r\n")
                    for _ in 0..<3 { try await client.reply() }
                    try await client.send("hi\r\n.\r\n")
                    #expect(try await client.reply() == "250 2.0.0 <x@d.test> Ok")
                }
                #expect(recorder.messages.count == 1)
            }
        }
    }

    @Test("LISTEN_FDS is read as sd_listen_fds(3) describes")
    func environment() {
        let pid = String(getpid())
        #expect(Server.Endpoint.systemdSockets(environment: ["LISTEN_PID": pid, "LISTEN_FDS": "2"]).map(\.description)
                == ["fd:3", "fd:4"])
        #expect(Server.Endpoint.systemdSockets(environment: ["LISTEN_PID": "1", "LISTEN_FDS": "2"]).isEmpty)
        #expect(Server.Endpoint.systemdSockets(environment: ["LISTEN_PID": pid]).isEmpty)
        #expect(Server.Endpoint.systemdSockets(environment: [:]).isEmpty)
    }
}
