import Foundation
import NIOCore
import SMTPClient
import SMTPCore
import Testing
import TestSupport

/// `letterbox serve` end to end: the real binary, a real socket, real Maildirs and SQLite.
@Suite("letterbox serve", .timeLimit(.minutes(2)))
struct ServeCommandTests {
    static func lmtpClient(_ agent: AgentProcess) async throws -> Client {
        try await Client.connect(to: .unix(path: agent.socket), configuration: Client.Configuration(lmtp: true, localName: "client.test"))
    }

    static func text(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    static func info(_ path: String) -> stat? {
        var result = stat()
        return stat(path, &result) == 0 ? result : nil
    }

    @Test("a single recipient with Python's smtplib.LMTP: trace headers, LF line ends, true S= and W=, a log row")
    func singleRecipient() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data")
            defer { agent.stop() }
            let script = #"""
            import smtplib, sys
            c = smtplib.LMTP(sys.argv[1])
            c.sendmail("alice@example.org", ["Bob@Example.NET"], "Subject: hi\r\nMessage-ID: <m1@example.org>\r\n\r\nhello\r\n.leading dot\r\n")
            c.quit()
            """#
            let result = try await python(script, [agent.socket])
            #expect(result.status == 0, "\(result.output)")
            let files = agent.newFiles("example.net/bob")
            let file = try #require(files.first)
            #expect(files.count == 1)
            let content = Self.text(file)
            #expect(content.hasPrefix("Return-Path: <alice@example.org>\nDelivered-To: Bob@Example.NET\nReceived: from "))
            #expect(content.contains("\tby mx.test (Letterbox) with LMTP id "))
            #expect(content.contains("\tfor <Bob@Example.NET>; "))
            #expect(content.hasSuffix("Subject: hi\nMessage-ID: <m1@example.org>\n\nhello\n.leading dot\n"))
            #expect(!content.contains("\r"))
            let size = content.utf8.count, lines = content.utf8.filter { $0 == 0x0A }.count
            #expect(file.hasSuffix(",S=\(size),W=\(size + lines)"))
            #expect(Self.info(agent.mailRoot + "/example.net/bob/new").map { $0.st_mode & 0o777 } == 0o700)
            #expect(Self.info(file).map { $0.st_mode & 0o777 } == 0o600)
            #expect(Self.info(agent.database).map { $0.st_mode & 0o777 } == 0o600)

            let listed = try await agent.letterbox(["deliveries", "list", "--json"])
            let rows = try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]]
            let row = try #require(rows?.first)
            #expect(row["recipient"] as? String == "bob@example.net")
            #expect(row["sender"] as? String == "alice@example.org")
            #expect(row["status"] as? String == "delivered")
            #expect(row["code"] as? Int == 250)
            #expect(row["enhanced_code"] as? String == "2.0.0")
            #expect(row["message_id"] as? String == "<m1@example.org>")
            #expect(row["size"] as? Int == size)
            #expect((row["file"] as? String).map { file.hasSuffix($0) } == true)
            #expect(row["session_id"] as? String != nil && row["time"] as? String != nil && row["mailbox"] as? String != nil)
        }
    }

    @Test("several recipients: one write hard-linked, duplicates answered twice, an unknown user refused at RCPT and logged with the transaction")
    func multipleRecipients() async throws {
        try await withTemporaryDirectory { directory in
            let users = directory + "/users"
            try "alice@x.test\nbob@x.test quota=1G\n# carol is gone\ndave@x.test\n".write(toFile: users, atomically: true, encoding: .utf8)
            let agent = try await AgentProcess.start(in: directory + "/data", ["--users", users])
            defer { agent.stop() }
            let client = try await Self.lmtpClient(agent)
            let recipients = ["alice@x.test", "carol@x.test", "bob@x.test", "alice@x.test"].map { Address($0)! }
            let (writer, rcpt) = try await client.beginMessage(from: .mailbox(Address("sender@y.test")!), to: recipients)
            #expect(rcpt.map(\.reply.code) == [250, 550, 250, 250])
            #expect(rcpt[1].reply.enhancedCode == EnhancedCode(5, 1, 1))
            try await writer.write("Subject: to many\r\n\r\nbody\r\n")
            let statuses = try await writer.finishWithStatuses()
            #expect(statuses.map(\.recipient.localPart) == ["alice", "bob", "alice"])
            #expect(statuses.map(\.reply.code) == [250, 250, 250])
            try await client.quit()
            let alice = agent.newFiles("x.test/alice"), bob = agent.newFiles("x.test/bob")
            #expect(alice.count == 1 && bob.count == 1)
            let a = try #require(Self.info(alice[0])), b = try #require(Self.info(bob[0]))
            #expect(a.st_ino == b.st_ino)
            // With several recipients no Delivered-To and no "for", so one file serves all.
            #expect(!Self.text(alice[0]).contains("Delivered-To:"))
            #expect(!Self.text(alice[0]).contains("\tfor <"))
            let sqlite = try External.require("sqlite3")
            let check = try await runProcess(sqlite, ["-readonly", agent.database, """
                PRAGMA integrity_check; SELECT recipient || ' ' || status || ' ' || code || ' ' || enhanced_code FROM deliveries ORDER BY recipient;
                SELECT COUNT(DISTINCT transaction_id) FROM deliveries;
                """])
            #expect(check.output == "ok\nalice@x.test delivered 250 2.0.0\nbob@x.test delivered 250 2.0.0\ncarol@x.test failed 550 5.1.1\n1\n")
            // "Why did carol not get it?"
            let listed = try await agent.letterbox(["deliveries", "list", "--status", "failed", "--recipient", "carol@x.test", "--json"])
            #expect(listed.status == 0 && listed.output.contains("\"code\" : 550") && listed.output.contains("\"sender\" : \"sender@y.test\""),
                    "\(listed.output)")
        }
    }

    @Test("recipients refused at RCPT are logged in their transaction, also when every one was refused: unknown user, bad mailbox, over quota with SIZE, too many recipients; and a message refused as too large")
    func refusedRecipientsLogged() async throws {
        try await withTemporaryDirectory { directory in
            let users = directory + "/users"
            try "alice@x.test quota=500\nbob@x.test\n".write(toFile: users, atomically: true, encoding: .utf8)
            let agent = try await AgentProcess.start(in: directory + "/data", ["--users", users, "--max-recipients", "2",
                                                                                "--max-message-size", "1K"])
            defer { agent.stop() }
            try await TestClient.with(try SocketAddress(unixDomainSocketPath: agent.socket)) { client in
                try await client.reply()
                try await client.line("LHLO c.test")
                _ = try await client.readReply()
                // Every recipient refused: no DATA; the client resets.
                #expect(try await client.command("MAIL FROM:<s1@y.test> SIZE=600") == "250 2.1.0 Ok")
                #expect(try await client.command("RCPT TO:<carol@x.test>").hasPrefix("550 5.1.1 "))
                #expect(try await client.command("RCPT TO:<alice@x.test>").hasPrefix("552 5.2.2 "))
                #expect(try await client.command("RSET").hasPrefix("250 "))
                // Some refused, two accepted, a third one over the limit; then the message.
                #expect(try await client.command("MAIL FROM:<s2@y.test>") == "250 2.1.0 Ok")
                #expect(try await client.command("RCPT TO:<bob@x.test>").hasPrefix("250 "))
                #expect(try await client.command("RCPT TO:<\"../etc\"@x.test>").hasPrefix("550 5.1.3 "))
                #expect(try await client.command("RCPT TO:<alice@x.test>").hasPrefix("250 "))
                #expect(try await client.command("RCPT TO:<dave@x.test>").hasPrefix("452 4.5.3 "))
                #expect(try await client.command("DATA").hasPrefix("354 "))
                try await client.send("Subject: s2\r\n\r\nbody\r\n.\r\n")
                #expect(try await client.reply().hasPrefix("250 "))
                #expect(try await client.reply().hasPrefix("250 "))
                // Too large for --max-message-size, found in the data.
                #expect(try await client.command("MAIL FROM:<s4@y.test>") == "250 2.1.0 Ok")
                #expect(try await client.command("RCPT TO:<bob@x.test>").hasPrefix("250 "))
                #expect(try await client.command("DATA").hasPrefix("354 "))
                try await client.send("Subject: s4\r\n\r\n" + String(repeating: "0123456789abcdef0123456789abcdef\r\n", count: 64) + ".\r\n")
                #expect(try await client.reply().hasPrefix("552 5.3.4 "))
                // Refused, and the connection ends without RSET.
                #expect(try await client.command("MAIL FROM:<s3@y.test>") == "250 2.1.0 Ok")
                #expect(try await client.command("RCPT TO:<erin@x.test>").hasPrefix("550 5.1.1 "))
                #expect(try await client.command("QUIT").hasPrefix("221 "))
            }
            let sqlite = try External.require("sqlite3")
            let query = """
                SELECT t.sender || ' ' || d.recipient || ' ' || d.status || ' ' || d.code || ' ' || d.enhanced_code
                FROM deliveries d JOIN transactions t ON t.id = d.transaction_id ORDER BY t.id, d.id;
                """
            var rows = ""
            for _ in 0..<100 {   // the last transaction is recorded as the connection ends
                rows = try await runProcess(sqlite, ["-readonly", agent.database, query]).output
                if rows.contains("erin") { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(rows == """
                s1@y.test carol@x.test failed 550 5.1.1
                s1@y.test alice@x.test failed 552 5.2.2
                s2@y.test bob@x.test delivered 250 2.0.0
                s2@y.test alice@x.test delivered 250 2.0.0
                s2@y.test ../etc@x.test failed 550 5.1.3
                s2@y.test dave@x.test deferred 452 4.5.3
                s4@y.test bob@x.test failed 552 5.3.4
                s3@y.test erin@x.test failed 550 5.1.1

                """)
        }
    }

    @Test("a mailbox that cannot be written fails only its recipient, with 451 4.3.0, nothing partial in new/")
    func perRecipientFailure() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data")
            defer { agent.stop() }
            // Break bob's Maildir: new/ is a file (permissions would not stop root).
            let bob = agent.mailRoot + "/x.test/bob"
            for sub in ["tmp", "cur"] { try FileManager.default.createDirectory(atPath: bob + "/" + sub, withIntermediateDirectories: true) }
            #expect(FileManager.default.createFile(atPath: bob + "/new", contents: Data()))
            let client = try await Self.lmtpClient(agent)
            let (writer, _) = try await client.beginMessage(from: .null, to: [Address("alice@x.test")!, Address("bob@x.test")!])
            try await writer.write("x\r\n")
            let statuses = try await writer.finishWithStatuses()
            #expect(statuses.map(\.reply.code) == [250, 451])
            #expect(statuses[1].reply.enhancedCode == EnhancedCode(4, 3, 0))
            try await client.quit()
            #expect(agent.newFiles("x.test/alice").count == 1)
            let listed = try await agent.letterbox(["deliveries", "list", "--status", "deferred", "--json"])
            #expect(listed.output.contains("\"bob@x.test\""))
        }
    }

    @Test("traversal attempts are refused at RCPT with 550 5.1.3; nothing lands outside the mail root")
    func traversal() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data", ["--recipient-delimiter", "+", "--detail-folders", "create"])
            defer { agent.stop() }
            let client = try await Self.lmtpClient(agent)
            try await client.mail(from: "a@b.test")
            // Local parts as they go on the wire, quotes included; some do not even parse.
            for evil in ["\"../../etc\"", "\".hidden\"", "bob+..", "bob+.x", "\"a/b\"", "\"..\""] {
                await #expect(throws: SMTPError.self, "\(evil)") { try await client.rcpt(to: Address(localPart: evil, domain: "x.test")) }
            }
            await #expect(throws: SMTPError.self) { try await client.rcpt(to: Address(localPart: "bob", domain: "..")) }
            try await client.quit()
            let entries = try FileManager.default.contentsOfDirectory(atPath: directory)
            #expect(entries == ["data"])
            #expect((try? FileManager.default.contentsOfDirectory(atPath: agent.mailRoot)) ?? [] == [])
        }
    }

    @Test("+detail goes to the Maildir++ folder when configured")
    func detailFolders() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data", ["--recipient-delimiter", "+", "--detail-folders", "create"])
            defer { agent.stop() }
            let client = try await Self.lmtpClient(agent)
            let (writer, _) = try await client.beginMessage(from: .null, to: [Address("bob+Lists@x.test")!])
            try await writer.write("x\r\n")
            #expect(try await writer.finishWithStatuses().map(\.reply.code) == [250])
            try await client.quit()
            #expect(agent.newFiles("x.test/bob/.lists").count == 1)
            #expect(FileManager.default.fileExists(atPath: agent.mailRoot + "/x.test/bob/.lists/maildirfolder"))
        }
    }

    @Test("a message re-sent with the same Message-ID and body is not delivered twice")
    func duplicates() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data")
            defer { agent.stop() }
            for _ in 0..<2 {
                let client = try await Self.lmtpClient(agent)
                let (writer, _) = try await client.beginMessage(from: .null, to: [Address("bob@x.test")!])
                try await writer.write("Message-ID: <same@x.test>\r\n\r\nbody\r\n")
                #expect(try await writer.finishWithStatuses().map(\.reply.code) == [250])
                try await client.quit()
            }
            #expect(agent.newFiles("x.test/bob").count == 1)
            let duplicates = try await agent.letterbox(["deliveries", "list", "--status", "duplicate", "--json"])
            let rows = try JSONSerialization.jsonObject(with: Data(duplicates.output.utf8)) as? [[String: Any]]
            #expect(rows?.count == 1)
            let stats = try await agent.letterbox(["deliveries", "stats", "--json"])
            #expect(stats.output.contains("\"duplicate\" : 1"))
        }
    }

    /// A row alone does not suppress a message: the copy it names must still be in the mailbox
    /// (in `new/`, or in `cur/` with flags a reader added). Otherwise — the user deleted it, or a
    /// power failure lost a copy whose row was committed while `new/` was being synced, before
    /// any 250 — the message is delivered again.
    @Test("a duplicate is suppressed only while the earlier copy is in the mailbox")
    func duplicateNeedsEarlierCopy() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data")
            defer { agent.stop() }
            func send() async throws {
                let client = try await Self.lmtpClient(agent)
                let (writer, _) = try await client.beginMessage(from: .null, to: [Address("bob@x.test")!])
                try await writer.write("Message-ID: <again@x.test>\r\n\r\nbody\r\n")
                #expect(try await writer.finishWithStatuses().map(\.reply.code) == [250])
                try await client.quit()
            }
            let maildir = agent.mailRoot + "/x.test/bob"
            try await send()
            let first = try #require(agent.newFiles("x.test/bob").first)
            // A reader moved it to cur/ and marked it seen: still there, so still a duplicate.
            let name = String(first.split(separator: "/").last!)
            #expect(rename(first, maildir + "/cur/" + name + ":2,S") == 0)
            try await send()
            #expect(agent.newFiles("x.test/bob").isEmpty)
            // Gone from the mailbox: the same message is delivered again.
            #expect(unlink(maildir + "/cur/" + name + ":2,S") == 0)
            try await send()
            #expect(agent.newFiles("x.test/bob").count == 1)
            let delivered = try await agent.letterbox(["deliveries", "list", "--status", "delivered", "--json"])
            let rows = try JSONSerialization.jsonObject(with: Data(delivered.output.utf8)) as? [[String: Any]]
            #expect(rows?.count == 2)
        }
    }

    @Test("a 20 MiB message streams into the Maildir intact")
    func largeMessage() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data", ["--max-message-size", "64M"])
            defer { agent.stop() }
            let client = try await Self.lmtpClient(agent)
            let (writer, _) = try await client.beginMessage(from: .null, to: [Address("bob@x.test")!])
            let line = String(repeating: "0123456789", count: 10) + "\r\n"
            for _ in 0..<(20 * 1024 * 1024 / line.utf8.count) { try await writer.write(line) }
            #expect(try await writer.finishWithStatuses().map(\.reply.code) == [250])
            try await client.quit()
            let file = try #require(agent.newFiles("x.test/bob").first)
            let lines = 20 * 1024 * 1024 / line.utf8.count
            let size = try #require(Self.info(file)).st_size
            #expect(file.contains(",S=\(size),"))
            #expect(Int(size) > lines * 101)
        }
    }

    @Test("quota: Maildir++ maildirsize kept, over quota 552 5.2.2 (452 4.2.2 with --quota-tempfail), SIZE checked at RCPT")
    func quota() async throws {
        try await withTemporaryDirectory { directory in
            let users = directory + "/users"
            try "bob@x.test quota=2K\nalice@x.test\n".write(toFile: users, atomically: true, encoding: .utf8)
            for tempfail in [false, true] {
                let agent = try await AgentProcess.start(in: directory + "/data-\(tempfail)", ["--users", users] + (tempfail ? ["--quota-tempfail"] : []))
                defer { agent.stop() }
                func send(_ octets: Int, size: Int? = nil) async throws -> [Int] {
                    let client = try await Self.lmtpClient(agent)
                    let (writer, _) = try await client.beginMessage(from: .null, to: [Address("bob@x.test")!, Address("alice@x.test")!],
                                                                    mailOptions: MailOptions(size: size))
                    try await writer.write(String(repeating: "x", count: octets) + "\r\n")
                    let codes = try await writer.finishWithStatuses().map(\.reply.code)
                    try await client.quit()
                    return codes
                }
                #expect(try await send(1000) == [250, 250])
                let maildirsize = (try? String(contentsOfFile: agent.mailRoot + "/x.test/bob/maildirsize", encoding: .utf8)) ?? ""
                #expect(maildirsize.hasPrefix("2048S\n"))
                #expect(try await send(1500) == (tempfail ? [452, 250] : [552, 250]))
                // Announced with SIZE, the message is refused for bob at RCPT; alice still gets it.
                let client = try await Self.lmtpClient(agent)
                let (writer, rcpt) = try await client.beginMessage(from: .null, to: [Address("bob@x.test")!, Address("alice@x.test")!],
                                                                   mailOptions: MailOptions(size: 5000))
                #expect(rcpt.map(\.reply.code) == [tempfail ? 452 : 552, 250])
                #expect(rcpt[0].reply.enhancedCode == EnhancedCode(tempfail ? 4 : 5, 2, 2))
                try await writer.write("small\r\n")
                #expect(try await writer.finishWithStatuses().map(\.reply.code) == [250])
                try await client.quit()
                #expect(agent.newFiles("x.test/bob").count == 1)
            }
        }
    }

    @Test("a full disk is 452 4.3.1 for the message, nothing is left behind, and the agent goes on")
    func diskFull() async throws {
        try await withTemporaryDirectory { directory in
            let mailRoot = directory + "/small"
            try FileManager.default.createDirectory(atPath: mailRoot, withIntermediateDirectories: true)
            guard mount("tmpfs", mailRoot, "tmpfs", 0, "size=256k") == 0 else {
                print("diskFull: cannot mount a tmpfs here (errno \(errno)); not tested")
                return
            }
            defer { umount(mailRoot) }
            let agent = try await AgentProcess.start(in: directory + "/data", ["--mail-root", mailRoot])
            defer { agent.stop() }
            let client = try await Self.lmtpClient(agent)
            let (writer, _) = try await client.beginMessage(from: .null, to: [Address("bob@x.test")!, Address("carol@x.test")!])
            let line = String(repeating: "x", count: 1000) + "\r\n"
            for _ in 0..<1024 { try await writer.write(line) }   // 1 MiB into 256 KiB
            let statuses = try await writer.finishWithStatuses()
            #expect(statuses.map(\.reply.code) == [452, 452])
            #expect(statuses.first?.reply.enhancedCode == EnhancedCode(4, 3, 1))
            #expect(agent.newFiles("x.test/bob").isEmpty)
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: mailRoot + "/x.test/bob/tmp")) ?? []).isEmpty)
            // A message that fits still goes through on the same connection.
            let (small, _) = try await client.beginMessage(from: .null, to: [Address("bob@x.test")!])
            try await small.write("fits\r\n")
            #expect(try await small.finishWithStatuses().map(\.reply.code) == [250])
            try await client.quit()
        }
    }

    @Test("--detail-folders existing: into the folder only when it exists")
    func existingDetailFolders() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data", ["--recipient-delimiter", "+", "--detail-folders", "existing"])
            defer { agent.stop() }
            let lists = agent.mailRoot + "/x.test/bob/.lists"
            for sub in ["tmp", "new", "cur"] { try FileManager.default.createDirectory(atPath: lists + "/" + sub, withIntermediateDirectories: true) }
            for recipient in ["bob+lists@x.test", "bob+other@x.test"] {
                let client = try await Self.lmtpClient(agent)
                let (writer, _) = try await client.beginMessage(from: .null, to: [Address(recipient)!])
                try await writer.write("x\r\n")
                #expect(try await writer.finishWithStatuses().map(\.reply.code) == [250])
                try await client.quit()
            }
            #expect(agent.newFiles("x.test/bob/.lists").count == 1)
            #expect(agent.newFiles("x.test/bob").count == 1)
            #expect(!FileManager.default.fileExists(atPath: agent.mailRoot + "/x.test/bob/.other"))
        }
    }

    @Test("--mailbox-template changes the layout under the mail root")
    func mailboxTemplate() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data", ["--mailbox-template", "users/%u"])
            defer { agent.stop() }
            let client = try await Self.lmtpClient(agent)
            let (writer, _) = try await client.beginMessage(from: .null, to: [Address("Bob@X.test")!])
            try await writer.write("x\r\n")
            #expect(try await writer.finishWithStatuses().map(\.reply.code) == [250])
            try await client.quit()
            #expect(agent.newFiles("users/bob@x.test").count == 1)
        }
    }

    @Test("SIGTERM ends the agent with status 0")
    func gracefulStop() async throws {
        try await withTemporaryDirectory { directory in
            let agent = try await AgentProcess.start(in: directory + "/data")
            #expect(await agent.stopAndWait() == 0)
        }
    }
}

@Suite("What a 250 stands for, seen in the system calls", .serialized, .timeLimit(.minutes(2)))
struct DurabilityOrderTests {
    /// One completed call or reply write of the agent, in the order strace saw them return.
    enum Event: Equatable {
        /// `fsync`/`fdatasync` of the path.
        case synced(String)
        /// `sync_file_range` of the path: its data written back, nothing made durable.
        case wroteBack(String)
        /// `link` to the path.
        case linked(String)
        /// A per-recipient LMTP 250 for the address.
        case replied(String)
        /// An fsync of the path submitted through AIO (`io_submit`, IOCB_CMD_FSYNC); it counts
        /// as `synced` where `io_getevents` returns it.
        case submitted(String)
    }

    /// The completed calls (with the paths strace's `-y` prints) and the 250s written, in
    /// order. A call split over two lines (`<unfinished ...>` then `<... resumed>`) counts
    /// where it returned. An fsync submitted with `io_submit` (IOCB_CMD_FSYNC) counts where
    /// the thread's `io_getevents` returned it with `res=0`.
    static func events(_ trace: String) -> [Event] {
        var events: [Event] = []
        var unfinished: [String: Event] = [:]   // pid: the call that has not returned yet
        var submitted: [String: String] = [:]   // "pid data": the path of an asynchronous fsync
        for line in trace.split(separator: "\n").map(String.init) {
            let pid = String(line.prefix { $0 != " " })
            if line.contains("io_submit(") {
                // [{aio_data=0x1, aio_lio_opcode=IOCB_CMD_FSYNC, aio_fildes=7</…/new>}, …]
                for block in line.split(separator: "{").dropFirst() where block.contains("IOCB_CMD_FSYNC") {
                    guard let data = Self.field("aio_data=", in: block), let open = block.firstIndex(of: "<"),
                          let close = block[open...].firstIndex(of: ">") else { continue }
                    let path = String(block[block.index(after: open)..<close])
                    submitted[pid + " " + data] = path
                    if !line.contains(") = -1 ") { events.append(.submitted(path)) }
                }
                continue
            }
            if line.contains("io_getevents") {
                // [{data=0x1, obj=0x…, res=0, res2=0}, …], NULL) = 1
                for block in line.split(separator: "{").dropFirst() {
                    guard let data = Self.field("data=", in: block), Self.field(" res=", in: block) == "0",
                          let path = submitted.removeValue(forKey: pid + " " + data) else { continue }
                    events.append(.synced(path))
                }
                continue
            }
            let call: Event?
            if line.contains("fsync(") || line.contains("fdatasync(") || line.contains("sync_file_range(") {
                guard let open = line.firstIndex(of: "<"), let close = line[open...].firstIndex(of: ">") else { continue }
                let path = String(line[line.index(after: open)..<close])
                call = line.contains("sync_file_range(") ? .wroteBack(path) : .synced(path)
            } else if line.contains(" link(") {
                // link("/…/tmp/name", "/…/new/name,S=…,W=…")
                let quoted = line.split(separator: "\"", omittingEmptySubsequences: false)
                guard quoted.count > 3 else { continue }
                call = .linked(String(quoted[3]))
            } else {
                call = nil
            }
            if let call {
                if line.hasSuffix("<unfinished ...>") {
                    unfinished[pid] = call
                } else if line.hasSuffix("= 0") {
                    events.append(call)
                }
            } else if line.contains(" resumed>") {
                if let call = unfinished.removeValue(forKey: pid), line.hasSuffix("= 0") { events.append(call) }
            } else if line.contains("write") {
                var rest = Substring(line)
                while let range = rest.range(of: "250 2.0.0 <") {
                    let tail = rest[range.upperBound...]
                    guard let end = tail.firstIndex(of: ">") else { break }
                    events.append(.replied(String(tail[..<end])))
                    rest = tail[end...]
                }
            }
        }
        return events
    }

    /// The value after `name` in one of strace's structures, up to the next comma or brace.
    static func field(_ name: String, in block: Substring) -> String? {
        guard let range = block.range(of: name) else { return nil }
        return String(block[range.upperBound...].prefix { $0 != "," && $0 != "}" })
    }

    /// Runs the agent under `strace -f -y` with its data in `directory`, sends three messages
    /// to two recipients, and returns what it did; nil without strace or python3.
    static func trace(in directory: String, _ arguments: [String]) async throws -> [Event] {
        let strace = try External.require("strace")
        _ = try External.require("python3")
        let tracePath = directory + "/trace.txt"
        let agent = try await AgentProcess.start(in: directory + "/data", arguments,
                                                 under: [strace, "-f", "-y", "-e", "trace=fsync,fdatasync,sync_file_range,link,write,writev,io_submit,io_getevents",
                                                         "-o", tracePath])
        // Three messages to two recipients, one after another on one connection, spoken by
        // hand (smtplib's LMTP reads one reply after the data, not one per recipient).
        let client = try await python("""
            import socket, sys
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb")
            def reply():
                lines = []
                while True:
                    line = f.readline().decode()
                    lines.append(line.strip())
                    if line[3:4] != "-": return lines
            def send(line):
                s.sendall(line.encode() + b"\\r\\n")
                return reply()
            reply(); send("LHLO client.test")
            for i in range(3):
                send("MAIL FROM:<a@b.test>"); send("RCPT TO:<u1@mx.test>"); send("RCPT TO:<u2@mx.test>"); send("DATA")
                s.sendall(("Message-ID: <m%d@b.test>\\r\\nSubject: %d\\r\\n\\r\\nbody %d\\r\\n.\\r\\n" % (i, i, i)).encode())
                print(reply()[0]); print(reply()[0])
            send("QUIT")
            """, [agent.socket])
        // SIGTERM to the agent itself (strace's child), so that strace writes everything out.
        let tracer = agent.process.processIdentifier
        let children = (try? String(contentsOfFile: "/proc/\(tracer)/task/\(tracer)/children", encoding: .utf8)) ?? ""
        for child in children.split(separator: " ").compactMap({ Int32($0) }) { kill(child, SIGTERM) }
        _ = await agent.stopAndWait()
        #expect(client.status == 0)
        #expect(client.output.split(separator: "\n").filter { $0.hasPrefix("250 2.0.0") }.count == 6)
        return Self.events(try String(contentsOfFile: tracePath, encoding: .utf8))
    }

    /// For each recipient's 250: the events since its previous 250, with the user's name.
    static func perReply(_ events: [Event]) -> [(user: String, recipient: String, since: ArraySlice<Event>)] {
        var previous: [String: Int] = [:]
        var result: [(String, String, ArraySlice<Event>)] = []
        for (index, event) in events.enumerated() {
            guard case .replied(let recipient) = event else { continue }
            let user = String(recipient.prefix { $0 != "@" })
            result.append((user, recipient, events[(previous[recipient].map { $0 + 1 } ?? 0)..<index]))
            previous[recipient] = index
        }
        return result
    }

    /// Where, among the calls before one 250, each step of that recipient's delivery first
    /// happened (nil: it did not).
    struct Steps {
        var wroteBack: Int?
        var spoolSynced: Int?
        var linked: Int?
        var newSynced: Int?
        var walSynced: Int?

        init(_ since: ArraySlice<Event>, user: String) {
            for (index, event) in zip(since.indices, since) {
                switch event {
                case .wroteBack(let path) where Self.isSpool(path): wroteBack = wroteBack ?? index
                case .synced(let path) where Self.isSpool(path): spoolSynced = spoolSynced ?? index
                case .synced(let path) where path.hasSuffix("/\(user)/new"): newSynced = newSynced ?? index
                case .synced(let path) where path.hasSuffix("deliveries.sqlite-wal"): walSynced = walSynced ?? index
                case .linked(let path) where path.contains("/\(user)/new/"): linked = linked ?? index
                default: break
                }
            }
        }

        /// Whether `path` is a file in a Maildir's `tmp/` (its parent directory is named `tmp`;
        /// the test's own directory may be under the system's /tmp).
        static func isSpool(_ path: String) -> Bool { path.split(separator: "/").dropLast().last == "tmp" }
    }

    @Test("before each recipient's 250: the spool file, the recipient's new/ and the log's WAL were synced; --fsync portable syncs the file before its link (strace)")
    func syncsBeforeEveryReply() async throws {
        try await withTemporaryDirectory { directory in
            let events = try await Self.trace(in: directory, ["--fsync", "portable"])
            let replies = Self.perReply(events)
            #expect(replies.count == 6)
            for (user, recipient, since) in replies {
                let steps = Steps(since, user: user)
                #expect(steps.spoolSynced != nil, "no spool file synced before \(recipient)'s 250")
                #expect(steps.newSynced != nil, "\(user)'s new/ not synced before its 250")
                #expect(steps.walSynced != nil, "the log's WAL not synced before \(recipient)'s 250")
                #expect(steps.wroteBack == nil, "portable order wrote back instead of syncing")
                if let spoolSynced = steps.spoolSynced, let linked = steps.linked {
                    #expect(spoolSynced < linked, "the spool was linked for \(user) before its fsync")
                }
                if let linked = steps.linked, let newSynced = steps.newSynced { #expect(linked < newSynced) }
            }
        }
    }

    @Test("on ext4 with a journal, and on XFS: the spool's data written back before its link, then both recipients' new/ synced at once, then the 250; the file not synced (strace)",
          arguments: ["ext4", "xfs"])
    func writeBackBeforeLink(type: String) async throws {
        try await ScratchFileSystem.with(type: type) { mountPoint in
            let events = try await Self.trace(in: mountPoint, [])
            let replies = Self.perReply(events)
            #expect(replies.count == 6)
            for (user, recipient, since) in replies {
                let steps = Steps(since, user: user)
                #expect(steps.walSynced != nil, "the log's WAL not synced before \(recipient)'s 250")
                guard let wroteBack = steps.wroteBack, let linked = steps.linked, let newSynced = steps.newSynced else {
                    Issue.record("before \(recipient)'s 250 a step is missing: \(steps)")
                    continue
                }
                // u2's link and sync follow u1's in the same transaction: its window starts
                // after u1's previous 250 and holds the same calls, in the same order.
                #expect(wroteBack < linked, "\(user): linked before the data was written back")
                #expect(linked < newSynced, "\(user): new/ synced before the link")
                // new/'s journal commit carries the file: no fsync of its own.
                #expect(steps.spoolSynced == nil, "\(user): the file was fsynced as well")
            }
            // The two recipients' new/ submitted together through AIO; never the file.
            #expect(events.contains { if case .submitted(let path) = $0 { path.hasSuffix("/u1/new") } else { false } })
            #expect(events.contains { if case .submitted(let path) = $0 { path.hasSuffix("/u2/new") } else { false } })
            #expect(!events.contains { if case .submitted(let path) = $0 { Steps.isSpool(path) } else { false } })
        }
    }

    /// Sets `fs.aio-max-nr` to 0 while `body` runs (no process can make a new AIO context),
    /// then back; the test is skipped (a failure in CI) when it cannot be written. The suite is serialized
    /// so that its other tests, which require AIO, never run meanwhile; agents of other suites
    /// that start meanwhile sync in turn, which they may.
    static func withoutAIOContexts<T>(_ body: () async throws -> T) async throws -> T {
        let path = "/proc/sys/fs/aio-max-nr"
        guard let saved = try? String(contentsOfFile: path, encoding: .utf8),
              (try? "0\n".write(toFile: path, atomically: false, encoding: .utf8)) != nil else {
            try External.unavailable("could not set \(path) (needs root)")
        }
        defer { try? saved.write(toFile: path, atomically: false, encoding: .utf8) }
        return try await body()
    }

    @Test("without AIO (no context to be had): the same syncs, made one after another, before every 250 (strace)")
    func syncsWithoutAIO() async throws {
        try await ScratchFileSystem.with { mountPoint in
            try await Self.withoutAIOContexts {
                let events = try await Self.trace(in: mountPoint, [])
                #expect(!events.contains { if case .submitted = $0 { true } else { false } })
                let replies = Self.perReply(events)
                #expect(replies.count == 6)
                for (user, recipient, since) in replies {
                    let steps = Steps(since, user: user)
                    guard let wroteBack = steps.wroteBack, let linked = steps.linked, let newSynced = steps.newSynced,
                          steps.walSynced != nil else {
                        Issue.record("before \(recipient)'s 250 a step is missing: \(steps)")
                        continue
                    }
                    #expect(wroteBack < linked && linked < newSynced && steps.spoolSynced == nil, "\(user): \(steps)")
                }
            }
        }
    }
}
