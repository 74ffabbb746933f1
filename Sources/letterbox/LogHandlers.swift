import DeliveryLog
import Foundation
import Logging

/// Log lines on standard error, as text (`time level message key=value …`) or as one JSON
/// object per line, for journald and log shippers.
///
/// When standard error is the journal (systemd sets `JOURNAL_STREAM` to its device and inode,
/// systemd.exec(5)), each line starts with its syslog priority, `<7>` for debug to `<2>` for
/// critical (sd-daemon(3)), so that `journalctl -p warning` filters by it, and text lines leave
/// the time out: the journal stamps each line itself.
struct StandardErrorLogHandler: LogHandler {
    enum Format: String, CaseIterable {
        case text, json
    }

    let label: String
    let format: Format
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    /// Whether standard error is the journal (decided once, at start).
    let toJournal: Bool

    init(label: String, format: Format, logLevel: Logger.Level,
         journal: Bool = StandardErrorLogHandler.standardErrorIsJournal(ProcessInfo.processInfo.environment)) {
        self.label = label
        self.format = format
        self.logLevel = logLevel
        self.toJournal = journal
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Whether `JOURNAL_STREAM` names the device and inode of standard error.
    static func standardErrorIsJournal(_ environment: [String: String]) -> Bool {
        guard let stream = environment["JOURNAL_STREAM"] else { return false }
        let parts = stream.split(separator: ":")
        var info = stat()
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]), fstat(STDERR_FILENO, &info) == 0 else {
            return false
        }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    /// The syslog priority of `level` (RFC 5424 §6.2.1).
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        var line = toJournal ? "<\(Self.priority(event.level))>" : ""
        switch format {
        case .text:
            if !toJournal { line += Timestamp.format(Date()) + " " }
            line += "\(event.level) \(event.message)"
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) { line += " \(key)=\(value)" }
        case .json:
            var object: [String: String] = ["time": Timestamp.format(Date()), "level": "\(event.level)", "message": "\(event.message)",
                                            "label": label]
            for (key, value) in merged { object[key] = "\(value)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line += String(decoding: data, as: UTF8.self)
        }
        line += "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
