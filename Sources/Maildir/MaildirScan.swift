#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What ``Maildir/cleanTemporaryFiles(olderThan:now:)`` did.
public struct TemporaryFiles: Hashable, Sendable {
    /// Files removed because nothing had touched them for longer than the limit.
    public var removed: [String] = []
    /// Files left because they are recent (a delivery in progress, or a crash's leftovers
    /// that are not old enough yet).
    public var kept: [String] = []

    /// Nothing found.
    public init() {}
}

extension Maildir {
    /// The Maildir rule for `tmp/`: a file there untouched for 36 hours is a leftover of an
    /// interrupted delivery and may be removed (maildir(5), "cleaning up").
    public static let temporaryFileLifetime: Double = 36 * 3600

    /// Every Maildir (folders included) under `root`, found by walking it: a directory with
    /// `tmp/`, `new/` and `cur/` is one. Symbolic links are not followed.
    public static func all(under root: String) -> [Maildir] {
        var found: [Maildir] = []
        var pending = [root]
        while let directory = pending.popLast() {
            let maildir = Maildir(path: directory)
            if maildir.exists { found.append(maildir) }
            for name in entries(directory) where !["tmp", "new", "cur"].contains(name) || !maildir.exists {
                let child = directory + "/" + name
                var info = stat()
                if lstat(child, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { pending.append(child) }
            }
        }
        return found.sorted { $0.path < $1.path }
    }

    /// The names in `new/` and `cur/` (messages), each with its directory.
    public func messageFiles() -> [(directory: String, name: String)] {
        [new, cur].flatMap { directory in Self.entries(directory).map { (directory, $0) } }
    }

    /// Removes the files of `tmp/` that nothing has read or written for `lifetime`
    /// seconds before `now`, and lists the others; files touched after `now` (deliveries in
    /// progress when `now` is a start time) are left out.
    public func cleanTemporaryFiles(olderThan lifetime: Double = Maildir.temporaryFileLifetime,
                                    now: Double = Maildir.currentTime()) -> TemporaryFiles {
        var result = TemporaryFiles()
        for name in Self.entries(tmp) {
            let path = tmp + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            // maildir(5) speaks of access; atime is often not kept (noatime, relatime), so the
            // later of access and modification counts.
            // To the nanosecond: a file system with fine-grained ("multigrain", Linux 6.13)
            // timestamps can stamp a file a little into a second that time(2), which reads the
            // coarse clock, does not show yet; compared in whole seconds, a leftover written
            // just before a start looked like a delivery in progress after it.
            #if canImport(Darwin)
            let touched = max(Self.seconds(info.st_atimespec), Self.seconds(info.st_mtimespec))
            #else
            let touched = max(Self.seconds(info.st_atim), Self.seconds(info.st_mtim))
            #endif
            if touched > now { continue }
            if now - touched > lifetime && unlink(path) == 0 {
                result.removed.append(path)
            } else {
                result.kept.append(path)
            }
        }
        return result
    }

    /// The wall-clock time in seconds since 1970, to the nanosecond (`CLOCK_REALTIME`, the
    /// clock file times come from), for comparing with ``cleanTemporaryFiles(olderThan:now:)``.
    public static func currentTime() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return seconds(now)
    }

    private static func seconds(_ time: timespec) -> Double {
        Double(time.tv_sec) + Double(time.tv_nsec) / 1_000_000_000
    }

    /// The names in `directory` except `.` and `..`; empty when it cannot be read.
    public static func entries(_ directory: String) -> [String] {
        guard let stream = opendir(directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        // The record readdir returns is only as long as its name (d_reclen), not the full
        // `dirent`: loading `entry.pointee` would copy 280 bytes and may read past the end of
        // the library's buffer into an unmapped page (a crash seen once on a 20,000-file
        // new/). The name is read in place, up to its NUL, and nothing beyond it.
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        while let entry = readdir(stream) {
            let name = String(cString: (UnsafeRawPointer(entry) + nameOffset).assumingMemoryBound(to: CChar.self))
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

/// A message file's name in `new/` or `cur/`: the unique part, then `:2,FLAGS` once a reader
/// has moved it to `cur/` (maildir(5)); `S=<size>` among the unique part's fields is the size
/// of the file (Maildir++).
public struct MessageFileName: Hashable, Sendable {
    /// The name without the `:info` suffix: what a delivery agent chose.
    public var base: String
    /// `S=`, if present.
    public var size: Int?

    /// Parses `name`.
    public init(_ name: String) {
        base = String(name.prefix { $0 != ":" })
        size = base.split(separator: ",").dropFirst().first { $0.hasPrefix("S=") }.flatMap { Int($0.dropFirst(2)) }
    }
}

/// What a message file looks like on disk.
public enum MessageFileState: Hashable, Sendable {
    /// Present, and as large as its `S=` says (or without `S=`).
    case intact
    /// Present, but its size differs from `S=`: cut short or changed.
    case wrongSize(expected: Int, actual: Int)
}

extension Maildir {
    /// The message files of `new/` and `cur/` by their base name, with their state.
    /// Whether the message this agent delivered as `name` is still in this Maildir: in `new/`
    /// under that name, or in `cur/` with any `:info` a reader added (Maildir++).
    public func holds(_ name: String) -> Bool {
        var info = stat()
        if lstat(new + "/" + name, &info) == 0 { return true }
        let base = MessageFileName(name).base
        return Self.entries(cur).contains { MessageFileName($0).base == base }
    }

    public func messageStates() -> [String: MessageFileState] {
        var states: [String: MessageFileState] = [:]
        for (directory, name) in messageFiles() {
            let parsed = MessageFileName(name)
            var info = stat()
            guard lstat(directory + "/" + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            if let expected = parsed.size, expected != Int(info.st_size) {
                states[parsed.base] = .wrongSize(expected: expected, actual: Int(info.st_size))
            } else {
                states[parsed.base] = .intact
            }
        }
        return states
    }
}
