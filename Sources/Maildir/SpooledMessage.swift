#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CFileSystem

/// A complete message in a Maildir's `tmp/`, ready to be linked into any number of `new/`
/// directories.
public struct SpooledMessage: Hashable, Sendable {
    /// The Maildir whose `tmp/` holds it.
    public let maildir: Maildir
    /// Its unique name.
    public let name: String
    /// Its size on disk (`S=`).
    public let size: Int
    /// Its size with every line ending counted as CRLF (`W=`).
    public let virtualSize: Int
    /// The file system it is on, to decide between linking and copying.
    let device: UInt64
    /// Whether the file was fsynced before any link (or needs no sync: fsync is off). When
    /// not, its data was written back to the device (``MessageSpool/finish(fsync:order:)``) on
    /// a file system that commits a link only with, or after, what was journaled before it
    /// (``FileSystemOrdering``), and the file needs no fsync of its own: the journal commit
    /// that the sync of a `new/` it was linked into waits for also carries the file's blocks,
    /// size and extents, all journaled before the link, and that commit's cache flush covers
    /// its data, which the device had taken before the link was made.
    public let isSynced: Bool

    /// The path in `tmp/`.
    public var path: String { maildir.tmp + "/" + name }

    /// The name in `new/`: `<unique>,S=<size>,W=<size with CRLF>`.
    public var deliveredName: String { "\(name),S=\(size),W=\(virtualSize)" }

    /// Makes the message appear in `target`'s `new/`, atomically: a hard link to the spooled
    /// file when both are on one file system, else a copy written to `target`'s `tmp/`, fsynced
    /// and linked. When `fsync` is set, `new/` is fsynced before this returns (which makes a
    /// file that was only written back durable with it, see ``isSynced``), so the delivery
    /// survives a crash. Returns the delivered file's path.
    @discardableResult
    public func deliver(into target: Maildir, fsync sync: Bool) throws(MaildirError) -> String {
        let destination = try link(into: target, fsync: sync)
        if sync {
            if let failure = syncLinks(into: [target])[0] {
                unlink(destination)   // not durable: the client will be told to retry
                throw failure
            }
        }
        return destination
    }

    /// The first half of ``deliver(into:fsync:)``: the link (or the synced copy) into `new/`,
    /// without syncing `new/`. A delivery to several Maildirs links into all of them first and
    /// then syncs them with ``syncLinks(into:)``: on a journaled file system one commit then
    /// carries every link, where linking and syncing in turn would wait for one journal commit
    /// per recipient.
    ///
    /// With `flags`, the link goes into `cur/` with the flags in its name (`:2,FS`), as a
    /// delivery that sets flags does in Dovecot: a message in `new/` has none. Its sync is then
    /// that of `cur/` (``syncLinks(intoDirectories:)``).
    public func link(into target: Maildir, flags: MaildirFlags = .none, fsync sync: Bool) throws(MaildirError) -> String {
        let destination = flags.isEmpty ? target.new + "/" + deliveredName : target.cur + "/" + deliveredName + flags.info
        if hardLink(path, destination) != 0 {
            guard errno == EXDEV else { throw .last("link", destination) }
            try copy(into: target, destination: destination, fsync: sync)
        }
        return destination
    }

    /// fsyncs the `new/` of each of `maildirs` (name each once), all at the same time, through
    /// the kernel's asynchronous fsync, and returns each one's failure (`nil`: synced), in the
    /// order given. On a journaled file system they then all wait for the one journal commit
    /// that carries the links, where one after another each after the first would find it done
    /// and send the device a cache flush of its own. Every sync has finished when this returns.
    /// The file itself is not synced (see ``isSynced``).
    public func syncLinks(into maildirs: [Maildir]) -> [MaildirError?] {
        syncLinks(intoDirectories: maildirs.map(\.new))
    }

    /// ``syncLinks(into:)`` for the directories themselves: the `new/` or `cur/` (for copies
    /// linked with flags) of each Maildir that received a copy, each named once.
    public func syncLinks(intoDirectories directories: [String]) -> [MaildirError?] {
        var failures = [MaildirError?](repeating: nil, count: directories.count)
        // In groups, so that a delivery to a thousand Maildirs does not hold a thousand
        // directories open at once.
        var start = 0
        repeat {
            let group = start..<min(start + Self.syncGroup, directories.count)
            syncGroup(directories, group, into: &failures)
            start = group.upperBound
        } while start < directories.count
        return failures
    }

    /// How many directories one ``syncLinks(into:)`` group syncs at once (and holds open).
    static let syncGroup = 32

    /// Opens `directories[group]`, syncs them together, closes them, and records what failed.
    private func syncGroup(_ directories: [String], _ group: Range<Int>, into failures: inout [MaildirError?]) {
        var descriptors: [Int32] = []
        var owners: [Int] = []   // the Maildir of each descriptor
        descriptors.reserveCapacity(group.count)
        owners.reserveCapacity(group.count)
        defer { for descriptor in descriptors { close(descriptor) } }
        for index in group {
            let path = directories[index]
            let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if descriptor < 0 {
                failures[index] = .last("open", path)
                continue
            }
            descriptors.append(descriptor)
            owners.append(index)
        }
        var errors = [Int32](repeating: 0, count: descriptors.count)
        letterbox_fsync_together(descriptors, Int32(descriptors.count), &errors)
        for (owner, error) in zip(owners, errors) where error != 0 {
            failures[owner] = MaildirError(operation: "fsync", path: directories[owner], errno: error)
        }
    }

    private func copy(into target: Maildir, destination: String, fsync sync: Bool) throws(MaildirError) {
        let source = open(path, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw .last("open", path) }
        defer { close(source) }
        let copy = MessageSpool.Raw(path: target.tmp + "/" + name)
        try copy.create()
        do {
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw MaildirError.last("read", path)
                }
                if count == 0 { break }
                try chunk.withUnsafeBytes { raw in
                    Result { () throws(MaildirError) in try copy.write(UnsafeRawBufferPointer(rebasing: raw[0..<count])) }
                }.get()
            }
            try copy.close(fsync: sync)
            if hardLink(copy.path, destination) != 0 { throw MaildirError.last("link", destination) }
            unlink(copy.path)
        } catch let error as MaildirError {
            copy.abandon()
            throw error
        } catch {
            copy.abandon()
            throw MaildirError(operation: "copy", path: destination, errno: EIO)
        }
    }

    /// Removes the spooled file from `tmp/` once every delivery is done.
    public func remove() {
        unlink(path)
    }
}

extension MessageSpool {
    /// A plain file written as is (the copy of an already spooled message).
    final class Raw {
        let path: String
        private var descriptor: Int32 = -1

        init(path: String) {
            self.path = path
        }

        func create() throws(MaildirError) {
            descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw .last("open", path) }
        }

        func write(_ bytes: UnsafeRawBufferPointer) throws(MaildirError) {
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw .last("write", path)
                }
                offset += written
            }
        }

        func close(fsync sync: Bool) throws(MaildirError) {
            if sync && fsync(descriptor) != 0 { throw .last("fsync", path) }
            let result = Glibc.close(descriptor)
            descriptor = -1
            if result != 0 { throw .last("close", path) }
        }

        func abandon() {
            if descriptor >= 0 { Glibc.close(descriptor) }
            descriptor = -1
            unlink(path)
        }
    }
}

/// link(2), named apart from ``SpooledMessage/link(into:fsync:)``.
private func hardLink(_ source: String, _ destination: String) -> Int32 {
    link(source, destination)
}
