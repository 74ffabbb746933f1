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
        Checks that the database is sound (PRAGMA integrity_check), that every delivery the log \
        records as delivered has its file in new/ or cur/ with the size its name gives (S=), \
        and lists message files under the mail root that no delivery row names (a delivery \
        interrupted after the file was linked and before the row was committed: the client \
        never got 250 and will send it again) and leftovers in tmp/. Exit status: 0 when the \
        log and the Maildirs agree; 1 when a delivered message is missing or damaged or the \
        database is not sound (with --strict, also for unlogged files).
        """
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(name: .long, help: "The directory holding the Maildirs (default <data-dir>/mail).")
    var mailRoot: String?

    @Flag(name: .long, help: "Count unlogged message files as mismatches too.")
    var strict = false

    @Flag(name: .long, help: "Print a JSON object.")
    var json = false

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
        var states: [String: [String: MessageFileState]] = [:]
        var named: [String: Set<String>] = [:]
        for file in files {
            let maildir = file.maildir
            if states[maildir] == nil { states[maildir] = Maildir(path: maildir).messageStates() }
            let base = MessageFileName(file.file).base
            named[maildir, default: []].insert(base)
            switch states[maildir]?[base] {
            case nil: report.missing.append("\(file.id) \(file.recipient) \(maildir)/new/\(file.file)")
            case .wrongSize(let expected, let actual)?:
                report.damaged.append("\(file.id) \(file.recipient) \(maildir): \(base) has \(actual) octets, S=\(expected)")
            case .intact?: break
            }
        }
        let root = mailRoot ?? data.resolvedDataDir + "/mail"
        for maildir in Maildir.all(under: root) {
            let present = states[maildir.path] ?? maildir.messageStates()
            let logged = named[maildir.path] ?? []
            report.unlogged += present.keys.filter { !logged.contains($0) }.sorted().map { maildir.path + "/" + $0 }
            report.temporary += Maildir.entries(maildir.tmp).sorted().map { maildir.tmp + "/" + $0 }
        }
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
                for line in lines { print("  " + line) }
            }
            print("mismatches: \(report.mismatches)")
        }
        if report.mismatches > 0 { throw ExitCode(1) }
    }
}
