import Foundation
import Testing
import TestSupport

/// A private Postfix for one test: its own config, queue and data directories under the test's
/// directory, no chroot, an SMTP listener on a loopback port, and the given domains delivered
/// over LMTP to `socket` with one of the `main.cf` snippets of contrib/postfix.
final class PostfixInstance: Sendable {
    /// Which of contrib/postfix's set-ups the instance uses.
    enum Setup {
        /// contrib/postfix/main.cf.virtual: `virtual_mailbox_domains` and `virtual_transport`.
        case virtualDomains
        /// contrib/postfix/main.cf.mailbox: `mydestination` and `mailbox_transport`, through local(8).
        case localUsers

        var file: String {
            repositoryRoot + "/contrib/postfix/" + (self == .virtualDomains ? "main.cf.virtual" : "main.cf.mailbox")
        }
    }

    let directory: String
    let port: Int
    let postfix: String
    let sendmail: String
    let postqueue: String

    var config: String { directory + "/etc" }
    var maillog: String { directory + "/maillog" }

    private init(directory: String, port: Int, postfix: String, sendmail: String, postqueue: String) {
        self.directory = directory
        self.port = port
        self.postfix = postfix
        self.sendmail = sendmail
        self.postqueue = postqueue
    }

    /// Starts it; the test is skipped (a failure in CI) when Postfix is not installed.
    /// `extraSettings` are added to main.cf, `extraServices` (master.cf lines) to master.cf.
    static func start(in directory: String, socket: String, domains: [String], port: Int, setup: Setup = .virtualDomains,
                      extraSettings: [String] = [], extraServices: [String] = []) async throws -> PostfixInstance {
        let postfix = try External.require("postfix"), sendmail = try External.require("sendmail")
        let postqueue = try External.require("postqueue")
        let instance = PostfixInstance(directory: directory, port: port, postfix: postfix, sendmail: sendmail, postqueue: postqueue)
        let manager = FileManager.default
        for sub in ["etc", "queue", "data"] { try manager.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true) }
        // Postfix's own processes write their lock and cache files here.
        chown(directory + "/data", Self.postfixUID(), gid_t.max)
        // The contrib snippet as an operator would paste it, with the test's domains and an
        // absolute socket path (no chroot here) in place of the deployment's.
        let snippet = try String(contentsOfFile: setup.file, encoding: .utf8)
            .replacingOccurrences(of: "example.org, example.net", with: domains.joined(separator: ", "))
            .replacingOccurrences(of: "lmtp:unix:private/letterbox", with: "lmtp:unix:" + socket)
        #expect(snippet.contains("lmtp:unix:" + socket))
        let shared = try String(contentsOfFile: repositoryRoot + "/Tests/Fixtures/postfix-private-instance.cf",
                                encoding: .utf8)
        let main = shared + """
        queue_directory = \(directory)/queue
        data_directory = \(directory)/data
        myhostname = mx.test
        myorigin = \(domains[0])
        \(setup == .virtualDomains ? "mydestination =" : "")
        maillog_file = \(directory)/maillog
        maillog_file_prefixes = \(directory)
        message_size_limit = 67108864
        # Retry deferred mail quickly once the queue is flushed.
        minimal_backoff_time = 1s
        maximal_backoff_time = 2s
        queue_run_delay = 1s
        """ + "\n" + snippet + "\n" + extraSettings.joined(separator: "\n") + "\n"
        try main.write(toFile: directory + "/etc/main.cf", atomically: true, encoding: .utf8)
        // The packaged master.cf with every chroot switched off and smtpd on our port.
        var master = try String(contentsOfFile: "/etc/postfix/master.cf", encoding: .utf8)
        var lines: [String] = []
        for line in master.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            var fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            if fields.count >= 8, !line.hasPrefix(" "), !line.hasPrefix("#") {
                if fields[0] == "smtp" && fields[1] == "inet" { fields[0] = "127.0.0.1:\(port)" }
                fields[4] = "n"
                lines.append(fields.joined(separator: " "))
            } else {
                lines.append(line)
            }
        }
        master = (lines + extraServices).joined(separator: "\n") + "\n"
        try master.write(toFile: directory + "/etc/master.cf", atomically: true, encoding: .utf8)
        let started = try await runProcess(postfix, ["-c", instance.config, "start"])
        guard started.status == 0 else {
            throw SetupFailure("postfix start failed: \(started.output) \((try? String(contentsOfFile: instance.maillog, encoding: .utf8)) ?? "")")
        }
        return instance
    }

    static func postfixUID() -> uid_t {
        getpwnam("postfix").map { $0.pointee.pw_uid } ?? 0
    }

    /// Injects a message with Postfix's sendmail.
    func send(from sender: String, to recipients: [String], message: String) async throws {
        let result = try await runProcess(sendmail, ["-C", config, "-f", sender] + recipients, input: message)
        #expect(result.status == 0, "sendmail: \(result.output)")
    }

    /// The queue as `postqueue -j` lists it: one JSON object per message.
    func queue() async throws -> [[String: Any]] {
        let result = try await runProcess(postqueue, ["-c", config, "-j"])
        return result.output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Asks Postfix to retry everything queued now.
    func flush() async throws {
        _ = try await runProcess(postqueue, ["-c", config, "-f"])
    }

    func stop() async {
        _ = try? await runProcess(postfix, ["-c", config, "stop"])
    }

    var log: String { (try? String(contentsOfFile: maillog, encoding: .utf8)) ?? "" }
}
