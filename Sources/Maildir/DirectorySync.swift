import Foundation

/// Syncs directories for many threads at once (group commit, as the delivery log does for its
/// rows): a thread that linked a file into a directory needs an fsync of the directory that
/// *started after* its link; while one runs, the threads arriving meanwhile wait, and one of
/// them runs the next fsync for all of them. Concurrent deliveries into the same `new/` (an MTA
/// delivering one busy mailbox's mail over many connections) then share fsyncs; on a disk
/// whose cache flushes are what limits throughput, that is fewer flushes per message.
///
/// The calls block: they are made on the thread pool that does the delivery's file work.
public final class DirectorySync: Sendable {
    /// The one every delivery shares.
    public static let shared = DirectorySync()

    /// One directory's syncs: generations started and finished, and the result of the last.
    private struct Entry {
        var started: UInt64 = 0
        var finished: UInt64 = 0
        var running = false
        /// 0, or the errno of the last finished fsync (or of opening the directory).
        var lastError: Int32 = 0
        /// Threads inside ``sync(_:)`` for this path; the entry goes when none is left.
        var users = 0
    }

    /// The entries by path.
    private final class Entries: @unchecked Sendable {
        // @unchecked: every access happens between condition.lock() and unlock() in sync(_:)
        // of the DirectorySync owning it, so no two threads touch the dictionary at once.
        var byPath: [String: Entry] = [:]
    }

    private let condition = NSCondition()
    private let entries = Entries()

    /// Creates a syncer of its own (deliveries share ``shared``).
    public init() {}

    /// Returns once an fsync of `path` that started after the call has finished; throws its
    /// error if it failed.
    public func sync(_ path: String) throws(MaildirError) {
        condition.lock()
        defer { condition.unlock() }
        entries.byPath[path, default: Entry()].users += 1
        defer {
            entries.byPath[path]!.users -= 1
            if entries.byPath[path]!.users == 0 { entries.byPath[path] = nil }
        }
        // A sync already running may have started before our change: only the next one counts.
        let needed = entries.byPath[path]!.started + 1
        while entries.byPath[path]!.finished < needed {
            if entries.byPath[path]!.running {
                condition.wait()
                continue
            }
            entries.byPath[path]!.running = true
            entries.byPath[path]!.started += 1
            let generation = entries.byPath[path]!.started
            condition.unlock()
            let outcome: Int32
            do {
                try Maildir.syncDirectory(path)
                outcome = 0
            } catch {
                outcome = error.errno
            }
            condition.lock()
            entries.byPath[path]!.running = false
            entries.byPath[path]!.finished = generation
            entries.byPath[path]!.lastError = outcome
            condition.broadcast()
        }
        let error = entries.byPath[path]!.lastError
        if error != 0 { throw MaildirError(operation: "fsync", path: path, errno: error) }
    }
}
