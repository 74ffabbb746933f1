import Logging
import Maildir

/// serve's pass over every Maildir's `tmp/`, at start and then every `--tmp-sweep` (maildir(5):
/// files untouched for 36 hours are leftovers of interrupted deliveries).
struct TemporaryFileCleanup: Sendable {
    var maildirs = 0
    var removed: [String] = []
    var kept: [String] = []

    /// Cleans every Maildir under `mailRoot`, ignoring files touched after `startedAt`.
    static func run(mailRoot: String, startedAt: Double) -> TemporaryFileCleanup {
        var result = TemporaryFileCleanup()
        for maildir in Maildir.all(under: mailRoot) {
            result.maildirs += 1
            let files = maildir.cleanTemporaryFiles(now: startedAt)
            result.removed += files.removed
            result.kept += files.kept
        }
        return result
    }

    /// The start-up pass's report: what was removed, what was kept, how many Maildirs.
    func log(to logger: Logger) {
        logRemovals(to: logger)
        if !kept.isEmpty {
            logger.warning("files in tmp/ from interrupted deliveries, younger than 36 h: left in place",
                           metadata: ["count": "\(kept.count)", "files": "\(kept.prefix(20).joined(separator: " "))"])
        }
        logger.info("tmp/ checked", metadata: ["maildirs": "\(maildirs)"])
    }

    /// A later pass's report: only what it removed (younger files are deliveries in progress).
    func logRemovals(to logger: Logger) {
        if !removed.isEmpty {
            logger.notice("removed stale files from tmp/", metadata: ["count": "\(removed.count)",
                                                                     "files": "\(removed.prefix(20).joined(separator: " "))"])
        }
    }
}
