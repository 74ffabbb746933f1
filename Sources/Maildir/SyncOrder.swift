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
/// Recognised as ordering: `ext4` or `ext3` in `/proc/self/mountinfo` for the mount, with a
/// running journal (`/proc/fs/jbd2/<device>-8`: an internal one), none of `data=writeback`,
/// `nobarrier`, `barrier=0` or `journal_async_commit` among the options the kernel uses —
/// `/proc/fs/ext4/<device>/options`, which also shows defaults stored in the superblock
/// (`tune2fs -o journal_data_writeback,nobarrier`) that mountinfo does not — and no
/// `fast_commit` feature. A fast commit logs only the changed inodes and names, outside the
/// ordered journal commit the argument above rests on, so a file system with it gets the
/// portable order: it is read from the superblock when the block device is readable (root),
/// and otherwise seen in the kernel's fast-commit statistics (`/proc/fs/ext4/<device>/fc_info`)
/// as soon as any sync on that file system used or tried one.
///
/// XFS with its internal log orders them too: the write-back allocates the file's extents in a
/// transaction and sets its on-disk size in another at I/O completion, before the pages leave
/// writeback; the link is a later transaction; `new/`'s fsync forces the log up to it, and a
/// log force writes the whole checkpoint holding it, earlier transactions first, starting with
/// a cache flush and ending with a FUA commit record, so the data the device acknowledged
/// before the link is durable with it and recovery never replays the link without the size.
/// An external log (`logdev=`) or `nobarrier` gets the portable order. Anything else (no
/// journal, btrfs, tmpfs, NFS, FUSE, an unreadable `/proc`) is taken as not ordering.
///
/// A finding belongs to one mount (its unique id, from `statx`, Linux 6.8 and later): a file
/// system unmounted and mounted again — without its journal, with other options — is looked
/// at again. Older kernels give a new mount the id of one that is gone; there a file system
/// mounted again on the same device, with the same UUID and the same id, keeps its finding
/// until the agent restarts.
public enum FileSystemOrdering {
    /// What was found for each mount, so that `/proc` is read once per mount.
    private static let known = Mutex<[Key: Finding]>([:])

    /// A mounted file system: its device, its id (`f_fsid`, from the ext4 UUID) and the mount's
    /// id, so that the same device mounted again, with another file system or other options,
    /// is looked at again.
    private struct Key: Hashable {
        let device: UInt64
        let id: UInt64
        let mount: UInt64
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
        var device: UInt64 = 0, mount: UInt64 = 0
        guard letterbox_device_of(descriptor, &device, &mount) == 0 else {
            return Finding(ordersDataBeforeLinks: false, type: "unknown", reason: "statx failed (errno \(errno))")
        }
        return finding(forDescriptor: descriptor, device: device, mount: mount)
    }

    /// The finding for the file system of the open file `descriptor`, whose `st_dev` is
    /// `device`, reached through the mount `mount` (0 when unknown).
    public static func finding(forDescriptor descriptor: Int32, device: UInt64, mount: UInt64) -> Finding {
        var id: UInt64 = 0
        guard letterbox_file_system_id(descriptor, &id) == 0 else {
            return Finding(ordersDataBeforeLinks: false, type: "unknown", reason: "fstatfs failed (errno \(errno))")
        }
        return finding(Key(device: device, id: id, mount: mount))
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
        guard let mountinfo = try? TextFile.contents(of: "/proc/self/mountinfo") else {
            return Finding(ordersDataBeforeLinks: false, type: "unknown", reason: "/proc/self/mountinfo unreadable")
        }
        // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue":
        // the device is the third field; after the lone "-", the type, the source and the file
        // system's own options.
        let line = mountinfo.split(separator: "\n").map { $0.split(separator: " ") }.first { $0.count > 3 && $0[2] == number }
        guard let fields = line, fields.count > 3, let dash = fields.firstIndex(of: "-"), fields.count > dash + 3 else {
            return Finding(ordersDataBeforeLinks: false, type: "unknown", reason: "device \(number) not in /proc/self/mountinfo")
        }
        let type = String(fields[dash + 1])
        if type == "xfs" { return inspectXFS(options: fields[dash + 3].split(separator: ",").map(String.init)) }
        guard type == "ext4" || type == "ext3" else {
            return Finding(ordersDataBeforeLinks: false, type: type, reason: "not known to order data before links")
        }
        // The kernel's name of the block device ("sda1", "dm-0", "loop0"), which names its
        // journal thread's directory (none when the journal is off, or external) and its
        // options' file.
        guard let name = blockDeviceName(number) else {
            return Finding(ordersDataBeforeLinks: false, type: type, reason: "block device \(number) not in /sys/dev/block")
        }
        let effective = (try? TextFile.contents(of: "/proc/fs/ext4/\(name)/options"))?.split(whereSeparator: \.isWhitespace).map(String.init)
        let options = effective ?? fields[dash + 3].split(separator: ",").map(String.init)
        for unsafe in ["data=writeback", "nobarrier", "barrier=0", "journal_async_commit"] where options.contains(unsafe) {
            return Finding(ordersDataBeforeLinks: false, type: type, reason: "mounted with \(unsafe)")
        }
        guard access("/proc/fs/jbd2/\(name)-8", F_OK) == 0 else {
            return Finding(ordersDataBeforeLinks: false, type: type, reason: "no internal journal running")
        }
        if let fastCommit = fastCommit(device: name), fastCommit {
            return Finding(ordersDataBeforeLinks: false, type: type, reason: "fast_commit enabled")
        }
        let mode = options.contains("data=journal") ? "data=journal" : "data=ordered"
        return Finding(ordersDataBeforeLinks: true, type: type, reason: "journal on \(name), \(mode)")
    }

    /// XFS orders data before links when its log is internal (no `logdev=`) and it is mounted
    /// with barriers (Linux removed `nobarrier` in 4.19; older kernels show it here).
    static func inspectXFS(options: [String]) -> Finding {
        if let external = options.first(where: { $0.hasPrefix("logdev=") }) {
            return Finding(ordersDataBeforeLinks: false, type: "xfs", reason: "external log (\(external))")
        }
        if options.contains("nobarrier") {
            return Finding(ordersDataBeforeLinks: false, type: "xfs", reason: "mounted with nobarrier")
        }
        return Finding(ordersDataBeforeLinks: true, type: "xfs", reason: "internal log")
    }

    /// Whether the ext4 file system on the block device `name` has the `fast_commit` feature:
    /// read from its superblock when the device can be read (`s_feature_compat`, bit 0x400, at
    /// offset 0x5C of the superblock 1,024 octets in); otherwise `true` when the kernel's
    /// fast-commit statistics count any fast commit, or any sync found ineligible for one
    /// (they stay at zero without the feature), and `nil` when they count nothing yet.
    static func fastCommit(device name: String) -> Bool? {
        let descriptor = open("/dev/\(name)", O_RDONLY | O_CLOEXEC)
        if descriptor >= 0 {
            defer { close(descriptor) }
            var superblock = [UInt8](repeating: 0, count: 1024)
            let count = superblock.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 1024) }
            // The magic 0xEF53 at 0x38 says this really is an ext2/3/4 superblock.
            if count == 1024, superblock[0x38] == 0x53, superblock[0x39] == 0xEF {
                return superblock[0x5D] & 0x04 != 0   // 0x400 is bit 2 of the second octet (little-endian)
            }
        }
        guard let statistics = try? TextFile.contents(of: "/proc/fs/ext4/\(name)/fc_info") else { return nil }
        // "fc stats:\n0 commits\n0 ineligible\n…"
        for line in statistics.split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.count == 2, words[1] == "commits" || words[1] == "ineligible", let value = Int(words[0]), value > 0 {
                return true
            }
        }
        return nil
    }

    /// The last component of `/sys/dev/block/<major:minor>`'s target.
    private static func blockDeviceName(_ number: String) -> String? {
        var target = [CChar](repeating: 0, count: 4096)
        let count = readlink("/sys/dev/block/\(number)", &target, target.count - 1)
        guard count > 0 else { return nil }
        let path = String(decoding: target[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return path.split(separator: "/").last.map(String.init)
    }
}
