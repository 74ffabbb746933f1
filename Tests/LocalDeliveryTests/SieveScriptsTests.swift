import Foundation
@testable import LocalDelivery
import Sieve
import Testing
import TestSupport

@Suite("Finding and compiling users' Sieve scripts")
struct SieveScriptsTests {
    static let message = SieveMessage(Array("Subject: hi\r\n\r\nbody\r\n".utf8), envelopeFrom: "a@b.test", envelopeTo: "bob@example.org")

    /// The folders the program of `script` files into.
    static func folders(_ script: SieveScripts.Script?) -> [String] {
        guard case .program(let program)? = script?.loaded else { return [] }
        return program.run(on: message, environment: SieveEnvironment(now: 0)).actions.compactMap { action in
            if case .fileInto(let folder, _, _) = action { folder } else { nil }
        }
    }

    @Test("the template under the mail root, before and after scripts around it in order; a missing file is no script")
    func order() async throws {
        try await withTemporaryDirectory { root in
            let scripts = SieveScripts(SieveScripts.Settings(template: "%d/%n/.sieve", before: [root + "/before.sieve"],
                                                             after: [root + "/after.sieve", root + "/missing.sieve"], mailRoot: root))
            #expect(scripts.userScriptPath(user: "bob@example.org", domain: "example.org", name: "bob") == root + "/example.org/bob/.sieve")
            try FileManager.default.createDirectory(atPath: root + "/example.org/bob", withIntermediateDirectories: true)
            try "require \"fileinto\"; fileinto \"Before\";".write(toFile: root + "/before.sieve", atomically: true, encoding: .utf8)
            try "require \"fileinto\"; fileinto \"Mine\";".write(toFile: root + "/example.org/bob/.sieve", atomically: true, encoding: .utf8)
            try "require \"fileinto\"; fileinto \"After\";".write(toFile: root + "/after.sieve", atomically: true, encoding: .utf8)
            let found = scripts.scripts(user: "bob@example.org", domain: "example.org", name: "bob")
            #expect(found.map(\.path) == [root + "/before.sieve", root + "/example.org/bob/.sieve", root + "/after.sieve"])
            #expect(found.flatMap(Self.folders) == ["Before", "Mine", "After"])
            #expect(scripts.scripts(user: "eve@example.org", domain: "example.org", name: "eve").map(\.path)
                    == [root + "/before.sieve", root + "/after.sieve"])
            let absolute = SieveScripts(SieveScripts.Settings(template: root + "/%u.sieve", mailRoot: "/elsewhere"))
            #expect(absolute.userScriptPath(user: "bob@example.org", domain: "example.org", name: "bob") == root + "/bob@example.org.sieve")
        }
    }

    @Test("compiled once; compiled again when the file changes; a broken script gives its errors with positions")
    func cache() async throws {
        try await withTemporaryDirectory { root in
            let path = root + "/user.sieve"
            let scripts = SieveScripts(SieveScripts.Settings(template: path, mailRoot: root, recheckInterval: .zero))
            try "require \"fileinto\"; fileinto \"One\";".write(toFile: path, atomically: false, encoding: .utf8)
            #expect(Self.folders(scripts.load(path)) == ["One"])
            #expect(Self.folders(scripts.load(path)) == ["One"])
            // Same size, same second: the inode (a new file renamed in place, as editors save)
            // or the nanoseconds tell the versions apart.
            try "require \"fileinto\"; fileinto \"Two\";".write(toFile: path, atomically: true, encoding: .utf8)
            #expect(Self.folders(scripts.load(path)) == ["Two"])
            try "require \"fileinto\";\nfileinto;\n".write(toFile: path, atomically: true, encoding: .utf8)
            guard case .broken(let errors)? = scripts.load(path)?.loaded else { Issue.record("not broken"); return }
            #expect(errors.errors.first?.position.line == 2)
            #expect(scripts.load(root + "/none.sieve") == nil)
        }
    }

    @Test("a file is looked at again only after the recheck interval: a script saved within it, or one that appears, waits for it")
    func recheckInterval() async throws {
        try await withTemporaryDirectory { root in
            let path = root + "/user.sieve"
            let scripts = SieveScripts(SieveScripts.Settings(template: path, mailRoot: root, recheckInterval: .seconds(1)))
            #expect(scripts.load(path) == nil)
            try "require \"fileinto\"; fileinto \"One\";".write(toFile: path, atomically: true, encoding: .utf8)
            #expect(scripts.load(path) == nil)   // absent a moment ago
            try await Task.sleep(for: .milliseconds(1200))
            #expect(Self.folders(scripts.load(path)) == ["One"])
            try "require \"fileinto\"; fileinto \"Two\";".write(toFile: path, atomically: true, encoding: .utf8)
            #expect(Self.folders(scripts.load(path)) == ["One"])
            try await Task.sleep(for: .milliseconds(1200))
            #expect(Self.folders(scripts.load(path)) == ["Two"])
        }
    }
}
