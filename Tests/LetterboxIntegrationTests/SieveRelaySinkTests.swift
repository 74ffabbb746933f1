import Foundation
import NIOCore
import NIOPosix
import SMTPClient
import SMTPCore
import Testing
import TestSupport

/// Sieve's redirect and vacation through `--sieve-relay` received by Postfix's `smtp-sink` on
/// the loopback, a peer nobody here wrote: the envelopes and messages it records.
@Suite("Sieve redirect and vacation into Postfix's smtp-sink", .timeLimit(.minutes(1)))
struct SieveRelaySinkTests {
    @Test("the redirect from the original sender with Delivered-To, the vacation reply from <> with Auto-Submitted")
    func sink() async throws {
        let sink = try External.require("smtp-sink")
        try await withTemporaryDirectory { directory in
            chmod(directory, 0o777)   // smtp-sink writes its dump as nobody
            // A free loopback port: bound, then closed.
            let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
            let port = probe.localAddress!.port!
            try await probe.close()
            let dump = directory + "/dump"
            let process = try ChildProcess(sink, ["-u", "nobody", "-D", dump, "127.0.0.1:\(port)", "16"])
            defer { process.signal(SIGKILL) }
            var listening = false
            for _ in 0..<200 where !listening {
                if let client = try? await Client.connect(to: .tcp(host: "127.0.0.1", port: port)) {
                    await client.close()
                    listening = true
                } else {
                    try await Task.sleep(for: .milliseconds(25))
                }
            }
            let mail = directory + "/data/mail"
            for (user, script) in [("alice", "redirect \"fwd@elsewhere.test\";\n"),
                                   ("carol", "require \"vacation\";\nvacation :subject \"Out of office\" \"Back soon.\";\n")] {
                try FileManager.default.createDirectory(atPath: mail + "/x.test/" + user, withIntermediateDirectories: true)
                try script.write(toFile: mail + "/x.test/\(user)/.sieve", atomically: true, encoding: .utf8)
            }
            let agent = try await AgentProcess.start(in: directory + "/data", ["--sieve", "%d/%n/.sieve",
                                                                               "--sieve-relay", "127.0.0.1:\(port)"])
            defer { agent.stop() }
            let client = try await Client.connect(to: .unix(path: agent.socket), configuration: Client.Configuration(lmtp: true))
            let (writer, _) = try await client.beginMessage(from: .mailbox(Address("s@y.test")!),
                                                            to: [Address("alice@x.test")!, Address("carol@x.test")!])
            try await writer.write("From: s@y.test\r\nTo: alice@x.test, carol@x.test\r\nMessage-ID: <sink-1@y.test>\r\nSubject: hello\r\n\r\nbody\r\n")
            #expect(try await writer.finishWithStatuses().map(\.reply.code) == [250, 250])
            try await client.quit()
            try await Task.sleep(for: .milliseconds(200))
            let content = (try? String(contentsOfFile: dump, encoding: .utf8)) ?? ""
            // Two transactions, each starting with smtp-sink's own X-Client-Addr.
            let transactions = content.components(separatedBy: "X-Client-Addr: ").dropFirst()
            #expect(transactions.count == 2, "\(content)")
            let redirect = transactions.first { $0.contains("X-Rcpt-Args: <fwd@elsewhere.test>") } ?? ""
            #expect(redirect.contains("X-Mail-Args: <s@y.test>"), "\(content)")
            #expect(redirect.contains("Delivered-To: alice@x.test\n") && redirect.contains("Message-ID: <sink-1@y.test>"))
            #expect(!redirect.contains("Return-Path:"))
            let reply = transactions.first { $0.contains("X-Rcpt-Args: <s@y.test>") } ?? ""
            #expect(reply.contains("X-Mail-Args: <>"), "\(content)")
            for field in ["From: <carol@x.test>", "Subject: Out of office", "In-Reply-To: <sink-1@y.test>",
                          "Auto-Submitted: auto-replied (vacation)", "\n\nBack soon."] {
                #expect(reply.contains(field), "\(field) in \(reply)")
            }
        }
    }
}
