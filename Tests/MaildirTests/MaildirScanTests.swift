import Foundation
import Maildir
import Testing
import TestSupport

@Suite("Maildir scanning and tmp/ cleanup on real files")
struct MaildirScanTests {
    static func touch(_ path: String, _ text: String = "x", age: Int = 0) throws {
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        var times = [timeval(tv_sec: time(nil) - age, tv_usec: 0), timeval(tv_sec: time(nil) - age, tv_usec: 0)]
        #expect(utimes(path, &times) == 0)
    }

    @Test("all(under:) finds Maildirs and their folders at any depth, and nothing else")
    func findsMaildirs() async throws {
        try await withTemporaryDirectory { root in
            for path in ["a.test/bob", "a.test/bob/.Lists", "b.test/deep/carol"] { try Maildir(path: root + "/" + path).create() }
            try FileManager.default.createDirectory(atPath: root + "/a.test/not-a-maildir/new", withIntermediateDirectories: true)
            let found = Maildir.all(under: root).map { String($0.path.dropFirst(root.count + 1)) }
            #expect(found == ["a.test/bob", "a.test/bob/.Lists", "b.test/deep/carol"])
        }
    }

    @Test("entries: every name length from 1 to 255 bytes, UTF-8 names and a directory of 3,000 names (many buffer refills) read back exactly")
    func entriesOfEveryLength() async throws {
        try await withTemporaryDirectory { root in
            var expected: Set<String> = []
            // ASCII names of 1 to 255 bytes, and UTF-8 ones of 2 to 254.
            let names = (1...255).map { String(repeating: "n", count: $0) } + (1...127).map { String(repeating: "é", count: $0) }
            for name in names {
                expected.insert(name)
                #expect(FileManager.default.createFile(atPath: root + "/" + name, contents: nil))
            }
            for index in 0..<3000 {
                let name = "\(index).M\(index)P1.mx.test,S=\(index)"
                expected.insert(name)
                #expect(FileManager.default.createFile(atPath: root + "/" + name, contents: nil))
            }
            let found = Maildir.entries(root)
            #expect(found.count == expected.count)
            #expect(Set(found) == expected)
        }
    }

    @Test("tmp/ cleanup: untouched for over 36 h removed, younger kept, newer than the start ignored")
    func cleansTemporaryFiles() async throws {
        try await withTemporaryDirectory { root in
            let maildir = Maildir(path: root + "/m")
            try maildir.create()
            try Self.touch(maildir.tmp + "/stale", age: 37 * 3600)
            try Self.touch(maildir.tmp + "/recent", age: 35 * 3600)
            try Self.touch(maildir.tmp + "/in-progress", age: -60)
            let result = maildir.cleanTemporaryFiles()
            #expect(result.removed == [maildir.tmp + "/stale"])
            #expect(result.kept == [maildir.tmp + "/recent"])
            #expect(Set(try FileManager.default.contentsOfDirectory(atPath: maildir.tmp)) == ["recent", "in-progress"])
        }
    }

    @Test("tmp/ cleanup compares times to the fraction of a second: a file touched 0.3 s into the start's second is newer than a start 0.1 s into it")
    func cleanupToTheFraction() async throws {
        try await withTemporaryDirectory { root in
            let maildir = Maildir(path: root + "/m")
            try maildir.create()
            let second = Int(Maildir.currentTime()) - 10
            try Self.touch(maildir.tmp + "/after", age: 0)
            var times = [timeval(tv_sec: second, tv_usec: 300_000), timeval(tv_sec: second, tv_usec: 300_000)]
            #expect(utimes(maildir.tmp + "/after", &times) == 0)
            #expect(maildir.cleanTemporaryFiles(now: Double(second) + 0.1) == TemporaryFiles())
            #expect(maildir.cleanTemporaryFiles(now: Double(second) + 0.5).kept == [maildir.tmp + "/after"])
            // What a start just after a delivery's last write sees with the clock it reads.
            try Self.touch(maildir.tmp + "/just-before", age: 0)
            #expect(maildir.cleanTemporaryFiles().kept.sorted() == [maildir.tmp + "/after", maildir.tmp + "/just-before"])
        }
    }

    @Test("message file names and states: the :2, suffix, S= against the real size")
    func messageStates() async throws {
        let name = MessageFileName("1700000000.M1P2Q3R4.host,S=5,W=6:2,S")
        #expect(name.base == "1700000000.M1P2Q3R4.host,S=5,W=6")
        #expect(name.size == 5)
        #expect(MessageFileName("plain").size == nil)
        try await withTemporaryDirectory { root in
            let maildir = Maildir(path: root + "/m")
            try maildir.create()
            try Self.touch(maildir.new + "/a,S=5", "12345")
            try Self.touch(maildir.cur + "/b,S=5:2,S", "12345")
            try Self.touch(maildir.new + "/c,S=5", "123")
            #expect(maildir.messageStates() == ["a,S=5": .intact, "b,S=5": .intact, "c,S=5": .wrongSize(expected: 5, actual: 3)])
        }
    }
}
