#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CFileSystem

/// How line endings are stored.
public enum StoredLineEndings: Sendable, Hashable {
    /// CRLF becomes LF, as Maildir readers expect (Dovecot, mutt, Courier); a bare CR is kept.
    case lf
    /// The bytes exactly as received (BODY=BINARYMIME, where CRLF may be data).
    case asReceived
}

/// Writes one message into a Maildir's `tmp/` as it arrives, counting its size on disk (`S=`)
/// and its size with CRLF line ends (`W=`, what IMAP's RFC822.SIZE reports). Used from one
/// thread at a time; nothing is visible in `new/` until ``SpooledMessage/deliver(into:fsync:)``.
public final class MessageSpool {
    /// The Maildir whose `tmp/` holds the file.
    public let maildir: Maildir
    /// The unique name of the file.
    public let name: String
    private let lineEndings: StoredLineEndings
    private var descriptor: Int32
    private var staging = Staging()
    private var size = 0

    private static let bufferSize = 64 * 1024

    /// The path of the file in `tmp/`.
    public var path: String { maildir.tmp + "/" + name }

    /// Creates `tmp/<name>` (mode 0600; the name must not exist).
    public init(in maildir: Maildir, name: String, lineEndings: StoredLineEndings = .lf) throws(MaildirError) {
        self.maildir = maildir
        self.name = name
        self.lineEndings = lineEndings
        let path = maildir.tmp + "/" + name
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .last("open", path) }
    }

    deinit {
        if descriptor >= 0 {
            close(descriptor)
            unlink(path)
        }
    }

    /// Appends message bytes. Runs between CRs are copied whole (found with `memchr`), so a
    /// body is spooled at memory speed rather than octet by octet.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(MaildirError) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        // Worked on as a local and put back after: every use of a class's stored property is
        // checked for exclusive access at run time, and a 4 KiB message made 64 such checks.
        var staging = Staging()
        swap(&staging, &self.staging)
        defer { swap(&staging, &self.staging) }
        switch lineEndings {
        case .asReceived:
            staging.append(bytes)
        case .lf:
            var start = 0
            if staging.pendingCR {
                staging.pendingCR = false
                // CR then LF: the LF goes out with the next run, the CR is dropped.
                if bytes[0] != 0x0A { staging.appendCarriageReturn() }
            }
            while start < bytes.count {
                guard let found = memchr(base + start, 0x0D, bytes.count - start) else {
                    staging.append(UnsafeRawBufferPointer(rebasing: bytes[start...]))
                    break
                }
                let position = base.distance(to: UnsafeRawPointer(found))
                staging.append(UnsafeRawBufferPointer(rebasing: bytes[start..<position]))
                if position + 1 == bytes.count {
                    staging.pendingCR = true               // decided by the next chunk's first octet
                } else if bytes[position + 1] != 0x0A {
                    staging.appendCarriageReturn()   // a bare CR is kept
                }
                start = position + 1
            }
        }
        if staging.buffer.count >= Self.bufferSize { try flush(&staging) }
    }

    /// Appends message bytes.
    public func write(_ bytes: [UInt8]) throws(MaildirError) {
        // withUnsafeBytes rethrows untyped errors; carry the typed one out in a Result.
        try bytes.withUnsafeBytes { raw in Result { () throws(MaildirError) in try write(raw) } }.get()
    }

    /// Appends text.
    public func write(_ text: String) throws(MaildirError) {
        try write(Array(text.utf8))
    }

    /// What is written but not yet handed to the file, and what the name needs counted.
    private struct Staging {
        var buffer: [UInt8] = []
        /// Line feeds not preceded by a CR (each counts two octets in `W=`).
        var bareLineFeeds = 0
        /// The last chunk ended in a CR, which the next chunk's first octet decides about.
        var pendingCR = false
        /// The last octet staged.
        var previous: UInt8 = 0

        /// Copies a run into the buffer, counting its bare line feeds.
        mutating func append(_ run: UnsafeRawBufferPointer) {
            guard let base = run.baseAddress, !run.isEmpty else { return }
            // Jump from LF to LF (memchr) rather than looking at every octet.
            var bare = 0
            var offset = 0
            while offset < run.count, let found = memchr(base + offset, 0x0A, run.count - offset) {
                let position = base.distance(to: UnsafeRawPointer(found))
                let before = position == 0 ? previous : run[position - 1]
                if before != 0x0D { bare += 1 }
                offset = position + 1
            }
            previous = run[run.count - 1]
            bareLineFeeds += bare
            buffer.append(contentsOf: run)
        }

        mutating func appendCarriageReturn() {
            buffer.append(0x0D)
            previous = 0x0D
        }
    }

    /// Writes the staged octets to the file.
    private func flush(_ staging: inout Staging) throws(MaildirError) {
        var offset = 0
        while offset < staging.buffer.count {
            let written = staging.buffer.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw .last("write", path)
            }
            offset += written
        }
        size += staging.buffer.count
        staging.buffer.removeAll(keepingCapacity: true)
    }

    /// Writes what is buffered, makes it durable as `order` says when `fsync` is set, and
    /// closes the file.
    ///
    /// With ``SyncOrder/portable`` (or on a file system that does not order data before links,
    /// see ``FileSystemOrdering``) the file is fsynced here. With ``SyncOrder/automatic`` on
    /// one that does, its data is only written back to the device here; the message comes back
    /// with ``SpooledMessage/isSynced`` false, and it becomes durable with the sync of a `new/`
    /// it is linked into, which must come before the delivery is acknowledged.
    public func finish(fsync sync: Bool, order: SyncOrder = .portable) throws(MaildirError) -> SpooledMessage {
        var staging = Staging()
        swap(&staging, &self.staging)
        defer { swap(&staging, &self.staging) }
        if staging.pendingCR {
            staging.pendingCR = false
            staging.appendCarriageReturn()
        }
        try flush(&staging)
        let virtualSize = size + staging.bareLineFeeds
        // Not fstat: reading the times would cost the log's WAL a journaled mtime update per
        // commit (see letterbox_device_of).
        var device: UInt64 = 0, mount: UInt64 = 0
        guard letterbox_device_of(descriptor, &device, &mount) == 0 else { throw .last("statx", path) }
        if sync && order == .automatic
            && FileSystemOrdering.finding(forDescriptor: descriptor, device: device, mount: mount).ordersDataBeforeLinks {
            if letterbox_write_back(descriptor) == 0 {
                try closeFile()
                return SpooledMessage(maildir: maildir, name: name, size: size, virtualSize: virtualSize,
                                      device: device, isSynced: false)
            }
            guard errno == ENOSYS || errno == EINVAL else { throw .last("sync_file_range", path) }
        }
        if sync && fsync(descriptor) != 0 { throw .last("fsync", path) }
        try closeFile()
        return SpooledMessage(maildir: maildir, name: name, size: size, virtualSize: virtualSize, device: device,
                              isSynced: true)
    }

    /// Closes the finished file.
    private func closeFile() throws(MaildirError) {
        let result = close(descriptor)
        descriptor = -1
        guard result == 0 else { throw .last("close", path) }
    }

    /// Abandons the message: closes and removes the file.
    public func discard() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
        unlink(path)
    }
}
