import Foundation
import SMTPCore
import SMTPServer
import Testing
import TestSupport

/// `letterbox send`, run as the real binary against our server.
@Suite("letterbox send", .timeLimit(.minutes(1)))
struct SendCommandTests {
    @Test("LMTP over a Unix socket: one line per recipient, exit status by the worst outcome")
    func lmtp() async throws {
        try await withTemporaryDirectory { directory in
            let socket = directory + "/lmtp.sock"
            let configuration = Server.Configuration.test(ServerConfiguration(lmtp: true, hostname: "lmtp.test"))
            try await withServer(configuration, behaviour: Behaviour.lmtpMailboxStates, endpoint: .unix(path: socket)) { _, recorder, _ in
                let message = "Subject: from the CLI\n\n.dot\nbody\n"
                let ok = try await runProcess(letterboxExecutable(), ["send", "--server", "unix:" + socket, "--lmtp",
                                                                      "--from", "a@b.test", "--to", "ok@x.test", "--to", "ok2@x.test"], input: message)
                #expect(ok.status == 0)
                #expect(ok.output == "ok@x.test: 250 2.0.0 <ok@x.test> Ok\nok2@x.test: 250 2.0.0 <ok2@x.test> Ok\n")
                #expect(recorder.messages.first?.body == "Subject: from the CLI\r\n\r\n.dot\r\nbody\r\n")

                let mixed = try await runProcess(letterboxExecutable(), ["send", "--server", "unix:" + socket, "--lmtp", "--from", "",
                                                                         "--to", "ok@x.test", "--to", "gone@x.test"], input: "x\n")
                #expect(mixed.status == 69)
                #expect(mixed.output.contains("gone@x.test: 550 5.1.1 No such user"))

                let deferred = try await runProcess(letterboxExecutable(), ["send", "--server", "unix:" + socket, "--lmtp", "--from", "",
                                                                            "--to", "full@x.test", "--to", "gone@x.test"], input: "x\n")
                #expect(deferred.status == 75)
                #expect(deferred.output.contains("full@x.test: 452 4.2.2 Mailbox full"))
            }
        }
    }

    @Test("--starttls against a server without it sends nothing; bad arguments exit 64")
    func tlsRequiredAndUsage() async throws {
        try await withServer { address, recorder, _ in
            let result = try await runProcess(letterboxExecutable(), ["send", "--server", "127.0.0.1:\(address.port!)", "--starttls",
                                                                      "--from", "a@b.test", "--to", "c@d.test"], input: "x\n")
            #expect(result.status == 75)
            #expect(result.output.contains("tlsRequired"))
            #expect(recorder.messages.isEmpty)
        }
        let usage = try await runProcess(letterboxExecutable(), ["send", "--server", "nowhere", "--from", "a@b.test", "--to", "c@d.test"])
        #expect(usage.status == 64)
        let missing = try await runProcess(letterboxExecutable(), ["send", "--server", "127.0.0.1:25", "--from", "a@b.test"])
        #expect(missing.status == 64)
    }

    @Test("the trace goes to standard error with AUTH hidden")
    func trace() async throws {
        try await withTemporaryDirectory { directory in
            let passwordFile = directory + "/password"
            try "secret\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
            let configuration = Server.Configuration.test(ServerConfiguration(hostname: "mx.test", allowInsecureAuth: true))
            try await withServer(configuration) { address, recorder, _ in
                let result = try await runProcess(letterboxExecutable(), ["send", "--server", "127.0.0.1:\(address.port!)", "--trace",
                                                                          "--auth-user", "user", "--auth-password-file", passwordFile,
                                                                          "--from", "a@b.test", "--to", "c@d.test"], input: "hello\n")
                #expect(result.status == 0)
                #expect(result.output.contains("C: AUTH PLAIN ***"))
                #expect(!result.output.contains("c2VjcmV0"))   // "secret" in base64 never appears
                #expect(recorder.logins == ["user"])
            }
        }
    }
}
