import Foundation
import SMTPClient
import SMTPCore
import Testing
import TestSupport

/// Scripts/build-deb.sh: the package built from the release binary, installed with dpkg into a
/// root of its own (`dpkg --root`, its maintainer scripts run against that root), and the agent
/// it installed started and delivering.
@Suite("The Debian package", .timeLimit(.minutes(3)))
struct DebianPackageTests {
    @Test("build-deb makes a package that dpkg installs (user, directories, conffile, man pages, units) and whose agent delivers")
    func buildInstallStart() async throws {
        try External.requireRoot("installing a package with dpkg")
        let dpkg = try External.require("dpkg"), dpkgDeb = try External.require("dpkg-deb")
        _ = try External.require("useradd")
        let binary = repositoryRoot + "/.build/release/letterbox"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            try External.unavailable("\(binary) is missing: .ci/run builds it with docs/install.md's command")
        }
        let linked = try await runProcess("/usr/bin/ldd", [binary])
        if linked.output.contains("libswiftCore") {
            try External.unavailable("\(binary) is not built with --static-swift-stdlib (docs/install.md's command)")
        }
        try await withTemporaryDirectory { directory in
            chmod(directory, 0o755)
            let built = try await runProcess(repositoryRoot + "/Scripts/build-deb.sh", [directory + "/out"])
            #expect(built.status == 0, "\(built.output)")
            let package = built.output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(package.hasSuffix("_\(PackageVersion.current)_amd64.deb") || package.hasSuffix("_\(PackageVersion.current)_arm64.deb"), "\(package)")
            let fields = try await runProcess(dpkgDeb, ["--field", package, "Depends"])
            #expect(fields.output.contains("libsqlite3-0") && !fields.output.contains("swift"), "\(fields.output)")
            let contents = try await runProcess(dpkgDeb, ["--contents", package])
            for path in ["./usr/bin/letterbox", "./lib/systemd/system/letterbox.service", "./etc/letterbox/letterbox.conf",
                         "./usr/share/man/man5/letterbox.conf.5.gz", "./usr/share/man/man1/letterbox.serve.1.gz",
                         "./usr/share/bash-completion/completions/letterbox", "./usr/share/doc/letterbox/copyright"] {
                #expect(contents.output.contains(path), "\(path)")
            }

            // A root with a dpkg database and the system's account files, for dpkg --root.
            let root = directory + "/root"
            for sub in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"] {
                try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
            }
            #expect(FileManager.default.createFile(atPath: root + "/var/lib/dpkg/status", contents: Data()))
            for file in ["passwd", "group", "shadow", "gshadow", "login.defs"] where FileManager.default.fileExists(atPath: "/etc/" + file) {
                try FileManager.default.copyItem(atPath: "/etc/" + file, toPath: root + "/etc/" + file)
            }
            // The root's own vmail must be made by the package, whatever the system has.
            for file in ["passwd", "group", "shadow", "gshadow"] where FileManager.default.fileExists(atPath: root + "/etc/" + file) {
                let text = try String(contentsOfFile: root + "/etc/" + file, encoding: .utf8)
                try text.split(separator: "\n").filter { !$0.hasPrefix("vmail:") }.map { $0 + "\n" }.joined()
                    .write(toFile: root + "/etc/" + file, atomically: true, encoding: .utf8)
            }
            // The root's database is empty: its dependencies are checked against this system's.
            let depends = fields.output.split(separator: ",").map { $0.split(whereSeparator: \.isWhitespace).first.map(String.init) ?? "" }
            for name in depends where !name.isEmpty {
                #expect(try await runProcess(dpkg, ["-s", name]).status == 0, "\(name) is not installed here")
            }
            let installed = try await runProcess(dpkg, ["--root=" + root, "--force-script-chrootless", "--force-not-root", "--force-depends",
                                                        "--log=/dev/null", "-i", package])
            #expect(installed.status == 0, "\(installed.output)")
            let status = try await runProcess(dpkg, ["--root=" + root, "-s", "letterbox"])
            #expect(status.output.contains("Status: install ok installed"), "\(status.output)")
            #expect(status.output.contains(" /etc/letterbox/letterbox.conf "), "the configuration is a conffile: \(status.output)")
            let passwd = try String(contentsOfFile: root + "/etc/passwd", encoding: .utf8)
            let vmail = try #require(passwd.split(separator: "\n").first { $0.hasPrefix("vmail:") })
            let uid = try #require(uid_t(vmail.split(separator: ":")[2]))
            var info = stat()
            for path in ["/var/lib/letterbox", "/var/mail/vhosts"] {
                #expect(stat(root + path, &info) == 0 && info.st_uid == uid && info.st_mode & 0o777 == 0o750, "\(path)")
            }
            #expect(stat(root + "/etc/letterbox/letterbox.conf", &info) == 0 && info.st_uid == 0 && info.st_mode & 0o777 == 0o640)
            let service = try String(contentsOfFile: root + "/lib/systemd/system/letterbox.service", encoding: .utf8)
            #expect(service.contains("ExecStart=/usr/bin/letterbox serve --config /etc/letterbox/letterbox.conf"))

            // The installed agent, with the installed configuration, its paths moved into the root;
            // as root (this root's vmail is not the system's).
            let agent = try await AgentProcess.start(in: root + "/var/lib/letterbox", [
                "--config", root + "/etc/letterbox/letterbox.conf", "--mail-root", root + "/var/mail/vhosts", "--user", "root",
            ], executable: root + "/usr/bin/letterbox")
            #expect(try await agent.send(id: "deb@x.test", to: ["bob@x.test"]).map(\.code) == [250])
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: root + "/var/mail/vhosts/x.test/bob/new")) ?? []).count == 1)
            _ = await agent.stopAndWait()

            let removed = try await runProcess(dpkg, ["--root=" + root, "--force-script-chrootless", "--force-not-root",
                                                      "--log=/dev/null", "--purge", "letterbox"])
            #expect(removed.status == 0, "\(removed.output)")
            #expect(!FileManager.default.fileExists(atPath: root + "/usr/bin/letterbox"))
            #expect(!FileManager.default.fileExists(atPath: root + "/etc/letterbox/letterbox.conf"))
        }
    }
}
