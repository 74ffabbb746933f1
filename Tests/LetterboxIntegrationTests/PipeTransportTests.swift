import Foundation
import Testing
import TestSupport

/// `letterbox deliver` behind a real private Postfix as a pipe(8) transport (contrib/postfix's
/// master.cf.pipe): what Postfix does with each exit status. A local fault must leave the
/// message deferred in Postfix's queue, never bounced, and it must arrive once the fault is
/// fixed and the queue flushed.
@Suite("letterbox deliver behind Postfix's pipe(8)", .serialized, .timeLimit(.minutes(4)))
struct PipeTransportTests {
    /// A directory `nobody` (the pipe's user here) may enter and write.
    static func ownedByNobody(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let nobody = getpwnam("nobody")
        chown(path, nobody?.pointee.pw_uid ?? 65534, nobody?.pointee.pw_gid ?? 65534)
        chmod(path, 0o755)
    }

    @Test("a broken users file or a locked log: the message stays deferred in Postfix's queue, not bounced, and is delivered once fixed and flushed; the null sender arrives as <>")
    func localFaultsDefer() async throws {
        try External.requireRoot("pipe(8) with a private Postfix")
        try await withTemporaryDirectory { directory in
            chmod(directory, 0o755)   // pipe(8) runs deliver as nobody
            // A copy of the binary where nobody can reach it (the build directory may be under
            // a directory only root may enter, as a fresh clone in mktemp's directory is).
            let binary = directory + "/letterbox"
            try FileManager.default.copyItem(atPath: letterboxExecutable(), toPath: binary)
            chmod(binary, 0o755)
            let data = directory + "/data"
            try Self.ownedByNobody(data)
            let users = directory + "/users"
            try "bob@x.test quota=lots\n".write(toFile: users, atomically: true, encoding: .utf8)   // broken: no such size
            chmod(users, 0o644)
            // The contrib snippet as an operator pastes it, with this test's paths.
            let service = try String(contentsOfFile: repositoryRoot + "/contrib/postfix/master.cf.pipe", encoding: .utf8)
                .split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
                .replacingOccurrences(of: "user=vmail", with: "user=nobody")
                .replacingOccurrences(of: "/usr/local/bin/letterbox", with: binary)
                .replacingOccurrences(of: "--config /etc/letterbox/letterbox.conf",
                                      with: "--data-dir \(data) --users \(users) --hostname mx.test")
            let port = try await freeTCPPort()
            let postfix = try await PostfixInstance.start(
                in: directory + "/postfix", socket: directory + "/unused.sock", domains: ["x.test"], port: port,
                extraSettings: ["virtual_transport = letterbox-pipe"], extraServices: [service])
            // Stopped on every way out: a private Postfix left running outlives the test run.
            do {
                try await Self.exercise(postfix, data: data, users: users)
            } catch {
                await postfix.stop()
                throw error
            }
            await postfix.stop()
        }
    }

    /// The faults and their repairs, against a running private Postfix.
    static func exercise(_ postfix: PostfixInstance, data: String, users: String) async throws {
        let inbox = data + "/mail/x.test/bob/new"
        func files() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: inbox)) ?? [] }

        // 1. The users file cannot be parsed: deferred, with deliver's one line as the reason.
        try await postfix.send(from: "alice@y.test", to: ["bob@x.test"], message: "Message-ID: <pipe1@y.test>\nSubject: one\n\nbody\n")
        #expect(try await PostfixTests.eventually { postfix.log.contains("status=deferred") }, "\(postfix.log)")
        #expect(postfix.log.contains("bad users file"), "\(postfix.log)")
        #expect(!postfix.log.contains("status=bounced"), "\(postfix.log)")
        #expect(try await postfix.queue().count == 1)
        #expect(files().isEmpty)
        // Fixed: the queued message is delivered.
        try "bob@x.test quota=1G\n".write(toFile: users, atomically: true, encoding: .utf8)
        try await postfix.flush()
        #expect(try await PostfixTests.eventually { postfix.log.contains("status=sent") }, "\(postfix.log)")
        #expect(files().count == 1)
        #expect(try await PostfixTests.eventually { try await postfix.queue().isEmpty })

        // 2. The log is locked by another process for longer than deliver waits (5 s).
        let holder = try await DatabaseLockHolder.hold(data + "/deliveries.sqlite")
        let sentBefore = postfix.log.components(separatedBy: "status=sent").count
        let deferredBefore = postfix.log.components(separatedBy: "status=deferred").count
        try await postfix.send(from: "", to: ["bob@x.test"], message: "Message-ID: <pipe2@y.test>\nSubject: two\n\nbounce-like\n")
        #expect(try await PostfixTests.eventually { postfix.log.components(separatedBy: "status=deferred").count > deferredBefore },
                "\(postfix.log)")
        #expect(!postfix.log.contains("status=bounced"), "\(postfix.log)")
        #expect(files().count == 1)
        await holder.release()
        try await postfix.flush()
        #expect(try await PostfixTests.eventually { postfix.log.components(separatedBy: "status=sent").count > sentBefore },
                "\(postfix.log)")
        #expect(files().count == 2)
        // The null sender, passed by pipe(8) as MAILER-DAEMON, is recorded as <>.
        let listed = try await runProcess(letterboxExecutable(), ["deliveries", "list", "--json", "--data-dir", data,
                                                                  "--message-id", "<pipe2@y.test>"])
        #expect(listed.output.contains("\"sender\" : \"\""), "\(listed.output)")
        #expect(try await PostfixTests.eventually { try await postfix.queue().isEmpty })
    }
}
