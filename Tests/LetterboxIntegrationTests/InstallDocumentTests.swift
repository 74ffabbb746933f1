import Foundation
import SMTPClient
import SMTPCore
import Testing
import TestSupport

/// Runs docs/install.md: every `sh` block in order, as root, with its five locations moved
/// under a temporary directory; then starts the installed service's command the way systemd
/// would (socket from the socket unit, user from the service unit) and delivers through it.
@Suite("docs/install.md", .timeLimit(.minutes(2)))
struct InstallDocumentTests {
    static let document = repositoryRoot + "/docs/install.md"

    /// The document's commands, the variable block rewritten to live under `root`, without the
    /// lines the test cannot run here (`swift build`, checked against `.ci/run`; `systemctl`).
    static func script(root: String) throws -> (script: String, skipped: [String]) {
        var lines: [String] = []
        var skipped: [String] = []
        for block in try fencedBlocks(inFile: document, language: "sh") {
            for line in block.split(separator: "\n").map(String.init) {
                if line.hasPrefix("swift build") || line.hasPrefix("systemctl ") {
                    skipped.append(line)
                } else if let equals = line.firstIndex(of: "="), line[..<equals].allSatisfy({ $0.isUppercase || $0 == "_" }),
                          line[line.index(after: equals)...].hasPrefix("/") {
                    lines.append(String(line[..<equals]) + "=" + root + line[line.index(after: equals)...])
                } else {
                    lines.append(line)
                }
            }
        }
        return (lines.joined(separator: "\n"), skipped)
    }

    /// The value of `Key=` in a unit file.
    static func unitSetting(_ key: String, in text: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
    }

    @Test("the build command is the one CI runs; only systemctl is not run here")
    func buildCommandIsCIs() throws {
        let (_, skipped) = try Self.script(root: "/nonexistent")
        let ci = try String(contentsOfFile: repositoryRoot + "/.ci/run", encoding: .utf8)
        let builds = skipped.filter { $0.hasPrefix("swift build") }
        #expect(builds == ["swift build -c release --static-swift-stdlib --product letterbox"])
        #expect(builds.allSatisfy { ci.split(separator: "\n").contains(Substring($0)) })
        #expect(skipped.filter { $0.hasPrefix("systemctl") } == ["systemctl daemon-reload", "systemctl enable --now letterbox.socket"])
    }

    @Test("the socket unit for Exim passes systemd-analyze verify with the service unit, and makes its directory")
    func eximSocketUnit() async throws {
        let analyze = try External.require("systemd-analyze")
        let binary = letterboxExecutable()
        try await withTemporaryDirectory { directory in
            let service = try String(contentsOfFile: repositoryRoot + "/contrib/systemd/letterbox.service", encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/letterbox", with: binary)
                .replacingOccurrences(of: "User=vmail", with: "User=root").replacingOccurrences(of: "Group=vmail", with: "Group=root")
            try service.write(toFile: directory + "/letterbox.service", atomically: true, encoding: .utf8)
            let socket = try String(contentsOfFile: repositoryRoot + "/contrib/systemd/exim/letterbox.socket", encoding: .utf8)
            #expect(Self.unitSetting("ListenStream", in: socket) == "/run/letterbox/lmtp.sock")
            #expect(Self.unitSetting("DirectoryMode", in: socket) == "0755")
            #expect(Self.unitSetting("SocketGroup", in: socket) == "Debian-exim")
            try socket.replacingOccurrences(of: "SocketUser=vmail", with: "SocketUser=root")
                .write(toFile: directory + "/letterbox.socket", atomically: true, encoding: .utf8)
            let verified = try await runProcess(analyze, ["verify", directory + "/letterbox.socket", directory + "/letterbox.service"])
            #expect(verified.status == 0, "\(verified.output)")
        }
    }

    @Test("every command runs as root; vmail delivers; the installed units start the agent as systemd would")
    func install() async throws {
        try External.requireRoot("docs/install.md")
        let binary = repositoryRoot + "/.build/release/letterbox"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            try External.unavailable("\(binary) is missing: .ci/run builds it with the document's command")
        }
        _ = try External.require("systemd-analyze")
        let python = try External.require("python3")
        try await withTemporaryDirectory { root in
            // vmail must be able to reach the locations under the temporary directory.
            chmod(root, 0o755)
            // What a Debian system has before the document starts.
            try FileManager.default.createDirectory(atPath: root + "/etc/systemd/system", withIntermediateDirectories: true)
            let (script, _) = try Self.script(root: root)
            let result = try await runProcess("/bin/sh", ["-euc", script], currentDirectory: repositoryRoot)
            #expect(result.status == 0, "\(result.output)")
            #expect(result.output.contains("postmaster@example.org"), "\(result.output)")

            let state = root + "/var/lib/letterbox", mail = root + "/var/mail/vhosts", conf = root + "/etc/letterbox"
            let vmail = try #require(getpwnam("vmail")).pointee
            var info = stat()
            #expect(stat(root + "/usr/local/bin/letterbox", &info) == 0 && info.st_mode & 0o7777 == 0o755)
            // The manual and the completions.
            for page in ["man1/letterbox.serve.1", "man1/letterbox.deliver.1", "man5/letterbox.conf.5"] {
                #expect(FileManager.default.fileExists(atPath: root + "/usr/local/share/man/" + page), "\(page)")
            }
            let bash = (try? String(contentsOfFile: root + "/usr/local/share/bash-completion/completions/letterbox", encoding: .utf8)) ?? ""
            #expect(bash.contains("complete") && bash.contains("deliveries"))
            for directory in [state, mail] {
                #expect(stat(directory, &info) == 0 && info.st_uid == vmail.pw_uid && info.st_mode & 0o777 == 0o750, "\(directory)")
            }
            #expect(stat(conf + "/letterbox.conf", &info) == 0 && info.st_uid == 0 && info.st_gid == vmail.pw_gid && info.st_mode & 0o777 == 0o640)
            let delivered = (try? FileManager.default.contentsOfDirectory(atPath: mail + "/example.org/postmaster/new")) ?? []
            #expect(delivered.count == 1)
            #expect(stat(mail + "/example.org/postmaster/new/" + (delivered.first ?? ""), &info) == 0
                && info.st_uid == vmail.pw_uid && info.st_mode & 0o077 == 0)
            #expect(stat(state + "/deliveries.sqlite", &info) == 0 && info.st_uid == vmail.pw_uid)

            // Play systemd: the socket unit's socket (at a path of ours) owned as it says,
            // then the service unit's command as its user, with the socket as descriptor 3.
            let service = try String(contentsOfFile: root + "/etc/systemd/system/letterbox.service", encoding: .utf8)
            let socketUnit = try String(contentsOfFile: root + "/etc/systemd/system/letterbox.socket", encoding: .utf8)
            let command = try #require(Self.unitSetting("ExecStart", in: service)).split(separator: " ").map(String.init)
            #expect(command.first == root + "/usr/local/bin/letterbox")
            #expect(Self.unitSetting("User", in: service) == "vmail")
            #expect(Self.unitSetting("ReadWritePaths", in: service) == "\(mail) \(state)")
            let socketUser = try #require(Self.unitSetting("SocketUser", in: socketUnit))
            let socketMode = try #require(Self.unitSetting("SocketMode", in: socketUnit))
            let socket = root + "/letterbox.sock"
            let launcher = """
            import os, pwd, socket, sys
            path, owner, mode, user = sys.argv[1], sys.argv[2], int(sys.argv[3], 8), sys.argv[4]
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(path)
            s.listen(256)
            owner_entry = pwd.getpwnam(owner)
            os.chown(path, owner_entry.pw_uid, owner_entry.pw_gid)
            os.chmod(path, mode)
            if s.fileno() != 3:
                os.dup2(s.fileno(), 3)
            os.set_inheritable(3, True)
            entry = pwd.getpwnam(user)
            os.setgroups([])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            os.umask(0o077)
            os.chdir("/")
            os.environ["LISTEN_FDS"] = "1"
            os.environ["LISTEN_PID"] = str(os.getpid())
            os.execv(sys.argv[5], sys.argv[5:])
            """
            let process = try ChildProcess(python, ["-c", launcher, socket, socketUser, socketMode, "vmail"] + command,
                                           standardOutput: .null, standardError: .null)
            defer { process.signal(SIGKILL) }

            var client: Client?
            for _ in 0..<200 where client == nil {
                client = try? await Client.connect(to: .unix(path: socket), configuration: Client.Configuration(lmtp: true))
                if client == nil { try await Task.sleep(for: .milliseconds(25)) }
            }
            let connected = try #require(client)
            let (writer, recipients) = try await connected.beginMessage(from: .mailbox(Address("alice@example.net")!),
                                                               to: [Address("bob@example.org")!, Address("nobody@example.org")!])
            try await writer.write("Subject: through the installed service\r\n\r\nhello\r\n")
            let codes = try await writer.finishWithStatuses().map(\.reply.code)
            try await connected.quit()
            // nobody is not in the installed users file: refused at RCPT, so one status.
            #expect(recipients.map(\.reply.code) == [250, 550])
            #expect(codes == [250])
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: mail + "/example.org/bob/new")) ?? []).count == 1)
            #expect(stat(socket, &info) == 0 && info.st_mode & 0o777 == 0o600)
        }
    }
}
