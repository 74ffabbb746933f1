import ArgumentParser
import DeliveryLog
import Foundation
import Maildir

/// `letterbox deliveries verify`: the log against the Maildirs.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Cross-check the delivery log against the Maildirs.",
        discussion: """
        Opens the log read-only (safe while the agent runs) and reports, in this order: \
        database: SQLite's PRAGMA integrity_check ("ok" for a sound file). \
        missing: rows that say delivered whose file is in neither new/ nor cur/ of their \
        Maildir (with any flags): the message was expunged or moved away by the user or a mail \
        client, or lost. \
        damaged: such files whose size differs from the S= in their name. \
        unlogged: message files in new/ or cur/ under the mail root that no delivered row \
        names: put there by something other than this log's agent (another delivery agent, an \
        IMAP APPEND or COPY, a restore), or linked by a delivery whose row is not in the log. \
        A delivery interrupted between its link and its row's commit was never answered 250 \
        (the MTA sends it again), but verify cannot tell such a file from one whose row was \
        lost, so it claims neither. \
        in tmp/: files in a Maildir's tmp/ (deliveries in progress, or leftovers that serve \
        removes after 36 hours). \
        Maildirs are matched by the directory itself, not by how its path is spelled: a \
        relative --mail-root, a trailing slash or a symbolic link finds the same files. \
        Each category lists its first 20 lines and how many more there are (--all lists every \
        one; --json always does); on a terminal the progress is shown on standard error. \
        Exit status: 0 when nothing is missing or damaged and the database is sound; 1 \
        otherwise (with --strict, unlogged files count too).
        """
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(name: .long, help: "The directory holding the Maildirs (default <data-dir>/mail).")
    var mailRoot: String?

    @Flag(name: .long, help: "Count unlogged message files as mismatches too.")
    var strict = false

    @Flag(name: .long, help: "List every line of each category, not only the first 20.")
    var all = false

    @Flag(name: .long, help: "Print a JSON object (every line of each category).")
    var json = false

    /// Lines listed per category without --all.
    static let shown = 20

    /// What verify found.
    struct Report: Encodable {
        var database: [String]
        var delivered = 0
        var missing: [String] = []
        var damaged: [String] = []
        var unlogged: [String] = []
        var temporary: [String] = []
        var mismatches = 0
    }

    func run() async throws {
        let log = try DeliveriesCommand.open(data)
        var report = Report(database: try await log.integrityCheck())
        let files = try await log.deliveredFiles()
        report.delivered = files.count
        let progress = Progress()
        // By directory identity: the log's paths and the walk's may be spelled differently.
        var states: [MaildirKey: [String: MessageFileState]] = [:]
        var named: [MaildirKey: Set<String>] = [:]
        for (index, file) in files.enumerated() {
            progress.show(index + 1, every: 1_000) { "rows checked: \($0) of \(files.count)" }
            let base = MessageFileName(file.file).base
            // The file, and its other links when Sieve stored it in several folders.
            for maildir in [file.maildir] + file.copies {
                let key = MaildirKey(maildir)
                if states[key] == nil { states[key] = Maildir(path: maildir).messageStates() }
                named[key, default: []].insert(base)
                switch states[key]?[base] {
                case nil: report.missing.append("\(file.id) \(file.recipient) \(maildir)/new/\(file.file)")
                case .wrongSize(let expected, let actual)?:
                    report.damaged.append("\(file.id) \(file.recipient) \(maildir): \(base) has \(actual) octets, S=\(expected)")
                case .intact?: break
                }
            }
        }
        let root = mailRoot ?? data.resolvedDataDir + "/mail"
        for (index, maildir) in Maildir.all(under: root).enumerated() {
            progress.show(index + 1, every: 100) { "Maildirs walked: \($0)" }
            let key = MaildirKey(maildir.path)
            let present = states[key] ?? maildir.messageStates()
            let logged = named[key] ?? []
            report.unlogged += present.keys.filter { !logged.contains($0) }.sorted().map { maildir.path + "/" + $0 }
            report.temporary += Maildir.entries(maildir.tmp).sorted().map { maildir.tmp + "/" + $0 }
        }
        progress.end()
        report.mismatches = report.missing.count + report.damaged.count + (report.database == ["ok"] ? 0 : 1)
            + (strict ? report.unlogged.count : 0)
        if json {
            try DeliveriesCommand.printJSON(report)
        } else {
            print("database: \(report.database.joined(separator: "; "))")
            print("delivered rows checked: \(report.delivered)")
            for (title, lines) in [("missing", report.missing), ("damaged", report.damaged), ("unlogged", report.unlogged),
                                   ("in tmp/", report.temporary)] {
                print("\(title): \(lines.count)")
                for line in all ? lines[...] : lines.prefix(Self.shown) { print("  " + line) }
                if !all && lines.count > Self.shown { print("  … and \(lines.count - Self.shown) more (--all lists them)") }
            }
            print("mismatches: \(report.mismatches)")
        }
        if report.mismatches > 0 { throw ExitCode(1) }
    }
}

/// A Maildir directory as verify matches it: by device and inode when it exists, else by its
/// absolute, normalised path.
enum MaildirKey: Hashable {
    case directory(device: UInt64, inode: UInt64)
    case path(String)

    init(_ path: String) {
        var info = stat()
        if stat(path, &info) == 0 {
            self = .directory(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        } else {
            self = .path(absolutePath(path))
        }
    }
}
