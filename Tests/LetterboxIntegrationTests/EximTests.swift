import Foundation
import Testing
import TestSupport

/// Letterbox as Exim's LMTP transport. Debian's Exim package conflicts with Postfix's, so CI
/// unpacks Exim's binary beside Postfix and names it in LETTERBOX_EXIM (see .ci/run); on a
/// machine with Exim installed, `exim4` on PATH is used.
@Suite("Behind Exim", .timeLimit(.minutes(1)))
struct EximTests {
    /// Exim's binary; the test is skipped (a failure in CI) without one.
    static func exim() throws -> String {
        if let path = ProcessInfo.processInfo.environment["LETTERBOX_EXIM"], FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        return try External.require("exim4")
    }

    @Test("an LMTP transport with batch_max 50: one message to three recipients, one unknown and bounced")
    func multiRecipient() async throws {
        let exim = try Self.exim()
        try await withTemporaryDirectory { directory in
            let users = directory + "/users"
            try "sender@x.test\nbob@x.test\ncarol@x.test\n".write(toFile: users, atomically: true, encoding: .utf8)
            let sockets = directory + "/sockets"
            try FileManager.default.createDirectory(atPath: sockets, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
            let agent = try await AgentProcess.start(in: directory + "/agent", socket: sockets + "/letterbox",
                                                     ["--users", users, "--socket-mode", "0666"])
            defer { agent.stop() }
            for sub in ["spool", "log"] {
                try FileManager.default.createDirectory(atPath: directory + "/exim/" + sub, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o777])
            }
            // The router and transport of contrib/exim/letterbox.conf, pasted as an operator
            // would (the socket path replaced), around a private spool.
            let contrib = try String(contentsOfFile: repositoryRoot + "/contrib/exim/letterbox.conf", encoding: .utf8)
                .replacingOccurrences(of: "/run/letterbox/lmtp.sock", with: agent.socket)
            let parts = contrib.components(separatedBy: "# In the transports section:")
            try #require(parts.count == 2 && parts[1].contains(agent.socket))
            let config = """
            exim_path = \(exim)
            keep_environment =
            spool_directory = \(directory)/exim/spool
            log_file_path = \(directory)/exim/log/%slog
            never_users =
            primary_hostname = mx.test
            domainlist local_domains = x.test
            qualify_domain = x.test
            trusted_users = root
            begin routers
            \(parts[0])
            begin transports
            \(parts[1])
            begin retry
            *   *   F,1h,1m
            """
            try config.write(toFile: directory + "/exim/exim.conf", atomically: true, encoding: .utf8)
            let result = try await runProcess(exim, ["-C", directory + "/exim/exim.conf", "-odi", "-f", "sender@x.test",
                                                     "bob@x.test", "carol@x.test", "dave@x.test"],
                                              input: "Subject: through Exim\nMessage-ID: <e1@x.test>\n\nhello via Exim\n")
            #expect(result.status == 0, "\(result.output)")
            let log = (try? String(contentsOfFile: directory + "/exim/log/mainlog", encoding: .utf8)) ?? ""
            #expect(agent.newFiles("x.test/bob").count == 1, "\(log)")
            #expect(agent.newFiles("x.test/carol").count == 1)
            // One LMTP transaction for both: the same file, hard-linked.
            var bob = stat(), carol = stat()
            #expect(stat(agent.newFiles("x.test/bob").first ?? "", &bob) == 0 && stat(agent.newFiles("x.test/carol").first ?? "", &carol) == 0)
            #expect(bob.st_ino == carol.st_ino)
            #expect(log.contains("dave@x.test") && log.contains("550 5.1.1"))
            let bounce = (try? String(contentsOfFile: agent.newFiles("x.test/sender").first ?? "", encoding: .utf8)) ?? ""
            #expect(bounce.contains("dave@x.test"))
        }
    }
}
