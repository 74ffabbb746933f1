import Foundation
import Testing
import TestSupport

/// Run as root against a data directory another user owns, letterbox becomes that user before
/// it makes anything, so that no file is left owned by root (as Dovecot's mail_uid).
@Suite("Running as root", .timeLimit(.minutes(1)))
struct OwnerSwitchTests {
    /// Every file and directory under `path` not owned by `uid`.
    static func notOwned(by uid: uid_t, under path: String) -> [String] {
        var found: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: path)
        while let relative = enumerator?.nextObject() as? String {
            var info = stat()
            if lstat(path + "/" + relative, &info) == 0, info.st_uid != uid { found.append(relative) }
        }
        return found
    }

    @Test("deliver, serve and the deliveries commands run as root become the data directory's owner; --user names another")
    func becomesOwner() async throws {
        try External.requireRoot("switching to the data directory's owner")
        let nobody = try #require(getpwnam("nobody")).pointee
        try await withTemporaryDirectory { directory in
            chmod(directory, 0o755)   // nobody must reach its data directory
            let data = directory + "/data"
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: false)
            chown(data, nobody.pw_uid, nobody.pw_gid)

            let delivered = try await runProcess(letterboxExecutable(), ["deliver", "--data-dir", data, "--recipient", "bob@x.test"],
                                                 input: "Subject: as root\n\nbody\n")
            #expect(delivered.status == 0, "\(delivered.output)")
            let agent = try await AgentProcess.start(in: data)
            #expect(try await agent.send(id: "served@x.test", to: ["carol@x.test"]).map(\.code) == [250])
            let listed = try await agent.letterbox(["deliveries", "list"])
            #expect(listed.status == 0 && listed.output.contains("carol@x.test"))
            _ = await agent.stopAndWait()
            #expect(await agent.process.outputToEnd().contains("running as nobody, the owner of \(data)"))
            #expect(Self.notOwned(by: nobody.pw_uid, under: data) == [], "root-owned files left")

            // --user for a data directory that does not exist yet.
            let fresh = directory + "/fresh"
            let named = try await runProcess(letterboxExecutable(), ["deliver", "--data-dir", fresh, "--user", "nobody",
                                                                     "--recipient", "bob@x.test"], input: "Subject: named\n\nbody\n")
            #expect(named.status == 0, "\(named.output)")
            var info = stat()
            #expect(stat(fresh, &info) == 0 && info.st_uid == nobody.pw_uid)
            #expect(Self.notOwned(by: nobody.pw_uid, under: fresh) == [])
            let unknown = try await runProcess(letterboxExecutable(), ["deliveries", "list", "--data-dir", fresh, "--user", "no-such-user-x"])
            #expect(unknown == (67, "letterbox deliveries list: --user no-such-user-x: no such user\n"))
        }
    }
}
