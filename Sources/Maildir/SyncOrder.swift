#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CFileSystem
import Synchronization

/// In which order a delivery makes its message durable. Either way a recipient's 250 waits
/// until both the file and its link in `new/` are durable; what differs is whether the file is
/// fsynced before the link, or written back before it and made durable by `new/`'s fsync.
public enum SyncOrder: String, Sendable, Hashable, CaseIterable {
    /// The file's data is written back to the device (not synced) before the link, and the
    /// fsync of `new/` after the link makes both durable — where the file system is known to
    /// commit a link only together with, or after, the data written back before it (see
    /// ``FileSystemOrdering``); elsewhere as ``portable``. One journal commit per delivery
    /// instead of two in a row.
    case automatic
    /// The file is fsynced before it is linked, on every file system: what POSIX alone
    /// promises. Two journal commits in a row on a journaled file system.
    case portable
}

/// What the file system holding a Maildir promises about the order of its writes, as far as a
/// delivery relies on it.
///
/// A name must never be durable in `new/` while the data of its file is not: after a power
/// failure a reader would find a partial message. The portable way is to fsync the file before
/// linking it, which on a journaled file system costs a journal commit of its own (the file's
/// blocks and size) before the one that makes the link durable. ext4 (and ext3) with a journal
/// in `data=ordered` or `data=journal` mode do not need it: once the file's pages have been
/// written back (which allocates its blocks and sets its size on disk, in the running
/// transaction) and the device has acknowledged them, a link made afterwards is committed in
/// the same transaction or a later one, and every journal commit first flushes the device's
/// cache (unless barriers are off), so the link never reaches the disk without the data. Nor
/// does the file need an fsync of its own after the link: the commit that `new/`'s fsync waits
/// for (or the flush it sends when that commit is already written) carries everything of the
/// file — its blocks, size and extents were journaled before the link, transactions commit in
/// order, and the flush covers the data the device had taken before. An fsync of the file
/// there found nothing left to commit and only sent the device one more cache flush.
///
/// Recognised as ordering: `ext4` or `ext3` in `/proc/self/mountinfo` for the device, with a
/// running journal (`/proc/fs/jbd2/<device>-8`: an internal one), and none of `data=writeback`,
/// `nobarrier`, `barrier=0` or `journal_async_commit` among its options. Anything else (no
/// journal, XFS, btrfs, tmpfs, NFS, FUSE, an unreadable `/proc`) is taken as not ordering.
public enum FileSystemOrdering {
    /// What was found for each file system, so that `/proc` is read once per file system.
    private static let known = Mutex<[Key: Finding]>([:])

    /// A file system: its device and its id (`f_fsid`, from the ext4 UUID), so that a device
    /// mounted again with another file system is looked at again.
    private struct Key: Hashable {
        let device: UInt64
        let id: UInt64
    }

    /// What was found about one file system.
    public struct Finding: Sendable, Hashable, CustomStringConvertible {
        /// Whether a link made after the file's data was written back is never durable before
        /// that data.
        public let ordersDataBeforeLinks: Bool
        /// The file system's type (`ext4`, `xfs` …), or `unknown`.
        public let type: String
        /// Why it orders or not, for the operator.
        public let reason: String

        /// `type: reason`, as `serve` prints it.
        public var description: String { "\(type): \(reason)" }
    }

    /// The finding for the file system of `path` (an existing file or directory).
    public static func finding(forPath path: String) -> Finding {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return Finding(ordersDataBeforeLinks: false, type: "unknown", reason: "open failed (errno \(errno))")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            return Finding(ordersDataBeforeLinks: false, type: "unknown", reason: "fstat failed (errno \(errno))")
        }
        return finding(forDescriptor: descriptor, device: UInt64(info.st_dev))
    }

    /// The finding for the file system of the open file `descriptor`, whose `st_dev` is `device`.
    public static func finding(forDescriptor descriptor: Int32, device: UInt64) -> Finding {
        var id: UInt64 = 0
        guard letterbox_file_system_id(descriptor, &id) == 0 else {
            return Finding(ordersDataBeforeLinks: false, type: "unknown", reason: "fstatfs failed (errno \(errno))")
        }
        return finding(Key(device: device, id: id))
    }

    private static func finding(_ key: Key) -> Finding {
        if let cached = known.withLock({ $0[key] }) { return cached }
        let found = inspect(device: key.device)
        known.withLock { $0[key] = found }
        return found
    }

    private static func inspect(device: UInt64) -> Finding {
        // Linux's dev_t: 12 bits of major and 20 of minor, split across the word.
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff))
        let minor = (device & 0xff) | ((device >> 12) & ~UInt64(0xff))
        let number = "\(major):\(minor)"
        guard let mountinfo = readText("/proc/self/mountinfo") else {
            return Finding(ordersDataBeforeLinks: false, type: "unknown", reason: "/proc/self/mountinfo unreadable")
        }
        // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue":
        // the device is the third field; after the lone "-", the type, the source and the
        // file system's own options.
        for line in mountinfo.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 3, fields[2] == number, let dash = fields.firstIndex(of: "-"),
                  fields.count > dash + 3 else { continue }
            let type = String(fields[dash + 1])
            let options = fields[dash + 3].split(separator: ",").map(String.init)
            guard type == "ext4" || type == "ext3" else {
                return Finding(ordersDataBeforeLinks: false, type: type, reason: "not known to order data before links")
            }
            for unsafe in ["data=writeback", "nobarrier", "barrier=0", "journal_async_commit"] where options.contains(unsafe) {
                return Finding(ordersDataBeforeLinks: false, type: type, reason: "mounted with \(unsafe)")
            }
            // The kernel's name of the block device ("sda1", "dm-0", "loop0"), which names its
            // journal thread's directory; none when the journal is off (or external).
            guard let name = blockDeviceName(number), access("/proc/fs/jbd2/\(name)-8", F_OK) == 0 else {
                return Finding(ordersDataBeforeLinks: false, type: type, reason: "no internal journal running")
            }
            let mode = options.contains("data=journal") ? "data=journal" : "data=ordered"
            return Finding(ordersDataBeforeLinks: true, type: type, reason: "journal on \(name), \(mode)")
        }
        return Finding(ordersDataBeforeLinks: false, type: "unknown", reason: "device \(number) not in /proc/self/mountinfo")
    }

    /// The last component of `/sys/dev/block/<major:minor>`'s target.
    private static func blockDeviceName(_ number: String) -> String? {
        var target = [CChar](repeating: 0, count: 4096)
        let count = readlink("/sys/dev/block/\(number)", &target, target.count - 1)
        guard count > 0 else { return nil }
        let path = String(decoding: target[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return path.split(separator: "/").last.map(String.init)
    }

    private static func readText(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if count == 0 { break }
            contents.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: contents, as: UTF8.self)
    }
}
