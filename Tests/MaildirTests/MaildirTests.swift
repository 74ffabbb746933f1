import Foundation
import Maildir
import Testing
import TestSupport

@Suite("Maildir on real files")
struct MaildirTests {
    static func info(_ path: String) -> stat? {
        var result = stat()
        return stat(path, &result) == 0 ? result : nil
    }

    static func contents(_ path: String) -> [UInt8] {
        FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? []
    }

    @Test("unique names: the Maildir form, the host escaped, no repeats")
    func uniqueNames() throws {
        let generator = UniqueNameGenerator(host: "mx/1:a")
        let name = generator.next()
        let pattern = /^(\d+)\.M(\d+)P(\d+)Q(\d+)R([0-9a-f]+)\.mx\\0571\\072a$/
        #expect(name.wholeMatch(of: pattern) != nil, "\(name)")
        var seen = Set<String>()
        for _ in 0..<10_000 { seen.insert(generator.next()) }
        #expect(seen.count == 10_000)
    }

    @Test("mailbox names: lower-cased; no slash, NUL, control character or leading dot")
    func names() throws {
        #expect(try MailboxName.component("Alice") == "alice")
        #expect(throws: MailboxName.Problem.leadingDot) { try MailboxName.component("..") }
        #expect(throws: MailboxName.Problem.leadingDot) { try MailboxName.component(".hidden") }
        #expect(throws: MailboxName.Problem.forbiddenCharacter(UInt8(ascii: "/"))) { try MailboxName.component("a/../b") }
        #expect(throws: MailboxName.Problem.forbiddenCharacter(0)) { try MailboxName.component("a\0b") }
        #expect(throws: MailboxName.Problem.forbiddenCharacter(0x0A)) { try MailboxName.component("a\nb") }
        #expect(throws: MailboxName.Problem.empty) { try MailboxName.component("") }
    }

    @Test("create makes tmp, new and cur with mode 0700; a folder gets maildirfolder")
    func create() async throws {
        try await withTemporaryDirectory { root in
            let maildir = Maildir(path: root + "/example.org/alice")
            #expect(!maildir.exists)
            try maildir.create()
            #expect(maildir.exists)
            for directory in [maildir.tmp, maildir.new, maildir.cur] {
                #expect(Self.info(directory).map { $0.st_mode & 0o777 } == 0o700)
            }
            let folder = maildir.folder("lists")
            try folder.create()
            #expect(folder.path == root + "/example.org/alice/.lists")
            #expect(FileManager.default.fileExists(atPath: folder.path + "/maildirfolder"))
            #expect(folder.folderName == "lists")
            try maildir.create()   // again: nothing to do
        }
    }

    @Test("flags: IMAP system flags become the info letters in order, keywords have none; a copy with flags goes into cur/ and syncs there")
    func flags() async throws {
        #expect(MaildirFlags(imapFlags: ["\\Seen", "\\flagged", "$Label1", "\\SEEN", "\\Answered"]).letters == "FRS")
        #expect(MaildirFlags(imapFlags: ["\\Draft", "\\Deleted"]).info == ":2,DT")
        #expect(MaildirFlags(imapFlags: ["Custom"]).isEmpty)
        try await withTemporaryDirectory { root in
            let maildir = Maildir(path: root + "/box")
            try maildir.create()
            let spool = try MessageSpool(in: maildir, name: "m2")
            try spool.write(Array("Subject: flagged\r\n\r\nbody\r\n".utf8))
            let spooled = try spool.finish(fsync: true)
            let folder = maildir.folder("Read")
            try folder.create()
            let plain = try spooled.link(into: maildir, fsync: true)
            let flagged = try spooled.link(into: folder, flags: MaildirFlags(imapFlags: ["\\Seen"]), fsync: true)
            #expect(plain == maildir.new + "/" + spooled.deliveredName)
            #expect(flagged == folder.cur + "/" + spooled.deliveredName + ":2,S")
            #expect(spooled.syncLinks(intoDirectories: [maildir.new, folder.cur]) == [nil, nil])
            #expect(spooled.syncLinks(intoDirectories: [root + "/missing/cur"]).first??.errno == ENOENT)
            #expect(Self.contents(flagged) == Self.contents(plain))
        }
    }

    @Test("the spool stores LF line ends, keeps a bare CR, and S= and W= are true", arguments: [1, 2, 3, 7, 4096])
    func spoolLineEndings(chunkSize: Int) async throws {
        try await withTemporaryDirectory { root in
            let maildir = Maildir(path: root + "/box")
            try maildir.create()
            let spool = try MessageSpool(in: maildir, name: "m1")
            let message = Array("Subject: x\r\n\r\nline one\r\nbare\rCR\r\nend\r\n".utf8)
            for start in stride(from: 0, to: message.count, by: chunkSize) {
                try spool.write(Array(message[start..<min(start + chunkSize, message.count)]))
            }
            let spooled = try spool.finish(fsync: true)
            let stored = Self.contents(spooled.path)
            #expect(String(decoding: stored, as: UTF8.self) == "Subject: x\n\nline one\nbare\rCR\nend\n")
            #expect(spooled.size == stored.count)
            #expect(spooled.virtualSize == message.count)
            #expect(spooled.deliveredName == "m1,S=\(stored.count),W=\(message.count)")
        }
    }

    @Test("as received: bytes kept exactly; a CR at the very end survives LF conversion too")
    func spoolAsReceived() async throws {
        try await withTemporaryDirectory { root in
            let maildir = Maildir(path: root + "/box")
            try maildir.create()
            let binary: [UInt8] = [0, 13, 10, 10, 255, 13]
            let raw = try MessageSpool(in: maildir, name: "raw", lineEndings: .asReceived)
            try raw.write(binary)
            let rawSpooled = try raw.finish(fsync: false)
            #expect(Self.contents(rawSpooled.path) == binary)
            #expect(rawSpooled.virtualSize == binary.count + 1)   // one bare LF
            let converted = try MessageSpool(in: maildir, name: "cr")
            try converted.write([65, 13])
            #expect(Self.contents(try converted.finish(fsync: false).path) == [65, 13])
        }
    }

    @Test("one write, hard-linked into several new/ directories; tmp cleaned afterwards")
    func hardLinks() async throws {
        try await withTemporaryDirectory { root in
            let first = Maildir(path: root + "/d/alice"), second = Maildir(path: root + "/d/bob").folder("lists")
            try first.create()
            try second.create()
            let spool = try MessageSpool(in: first, name: UniqueNameGenerator(host: "h").next())
            try spool.write("hello\r\n")
            let spooled = try spool.finish(fsync: true)
            let a = try spooled.deliver(into: first, fsync: true)
            let b = try spooled.deliver(into: second, fsync: true)
            spooled.remove()
            #expect(a.hasPrefix(first.new + "/") && a.hasSuffix(",S=6,W=7"))
            #expect(b.hasPrefix(second.new + "/"))
            let infoA = try #require(Self.info(a)), infoB = try #require(Self.info(b))
            #expect(infoA.st_ino == infoB.st_ino)
            #expect(infoA.st_nlink == 2)
            #expect(try FileManager.default.contentsOfDirectory(atPath: first.tmp).isEmpty)
        }
    }

    @Test("a new/ that cannot take the link fails for that Maildir only, leaving nothing in it")
    func unwritable() async throws {
        try await withTemporaryDirectory { root in
            let good = Maildir(path: root + "/good"), broken = Maildir(path: root + "/broken")
            try good.create()
            try broken.create()
            // Root ignores permissions, so break the directory itself: new/ becomes a file.
            try FileManager.default.removeItem(atPath: broken.new)
            #expect(FileManager.default.createFile(atPath: broken.new, contents: Data()))
            let spool = try MessageSpool(in: good, name: "n")
            try spool.write("x\n")
            let spooled = try spool.finish(fsync: true)
            #expect(throws: MaildirError.self) { try spooled.deliver(into: broken, fsync: true) }
            try spooled.deliver(into: good, fsync: true)
            #expect(try FileManager.default.contentsOfDirectory(atPath: good.new).count == 1)
        }
    }

    @Test("across file systems the message is copied through the target's tmp/")
    func crossDevice() async throws {
        let shm = "/dev/shm/letterbox-\(UUID().uuidString.prefix(8))"
        guard FileManager.default.fileExists(atPath: "/dev/shm") else { try External.unavailable("/dev/shm is missing") }
        try FileManager.default.createDirectory(atPath: shm, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: shm) }
        try await withTemporaryDirectory { root in
            guard Self.info(shm)?.st_dev != Self.info(root)?.st_dev else {
                try External.unavailable("/dev/shm and the temporary directory are one file system here")
            }
            let source = Maildir(path: shm + "/a"), target = Maildir(path: root + "/b")
            try source.create()
            try target.create()
            let spool = try MessageSpool(in: source, name: "x")
            try spool.write(String(repeating: "copy me\r\n", count: 20_000))
            let spooled = try spool.finish(fsync: true)
            let delivered = try spooled.deliver(into: target, fsync: true)
            #expect(Self.contents(delivered) == Self.contents(spooled.path))
            #expect(try FileManager.default.contentsOfDirectory(atPath: target.tmp).isEmpty)
        }
    }

    @Test("an abandoned spool leaves nothing behind")
    func discard() async throws {
        try await withTemporaryDirectory { root in
            let maildir = Maildir(path: root + "/box")
            try maildir.create()
            let spool = try MessageSpool(in: maildir, name: "gone")
            try spool.write("partial")
            spool.discard()
            do {
                let dropped = try MessageSpool(in: maildir, name: "dropped")
                try dropped.write("partial")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: maildir.tmp).isEmpty)
            #expect(throws: MaildirError.self) { _ = try MessageSpool(in: Maildir(path: root + "/missing"), name: "x") }
        }
    }

    @Test("maildirsize: built by scanning the Maildir and its folders, appended to, rebuilt for a new quota")
    func maildirSize() async throws {
        try await withTemporaryDirectory { root in
            let inbox = Maildir(path: root + "/bob"), folder = inbox.folder("lists")
            try inbox.create()
            try folder.create()
            #expect(FileManager.default.createFile(atPath: inbox.cur + "/1.M1P1.h,S=100,W=104:2,S", contents: Data()))
            #expect(FileManager.default.createFile(atPath: folder.new + "/2.M1P1.h", contents: Data(repeating: 65, count: 50)))
            #expect(try MaildirSize.usage(of: inbox, limit: 1000) == MaildirSize.Usage(bytes: 150, messages: 2))
            #expect((try? String(contentsOfFile: inbox.path + "/maildirsize", encoding: .utf8)) == "1000S\n150 2\n")
            MaildirSize.record(bytes: 30, in: inbox)
            #expect(try MaildirSize.usage(of: inbox, limit: 1000) == MaildirSize.Usage(bytes: 180, messages: 3))
            // Another quota: the file is rebuilt from what is really there (the 30 were never stored).
            #expect(try MaildirSize.usage(of: inbox, limit: 2000) == MaildirSize.Usage(bytes: 150, messages: 2))
            #expect((try? String(contentsOfFile: inbox.path + "/maildirsize", encoding: .utf8)) == "2000S\n150 2\n")
        }
    }
}
