#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Maildir on disk (or a Maildir++ folder inside one): the directories `tmp/`, `new/` and
/// `cur/`, created with mode 0700 on first delivery.
public struct Maildir: Hashable, Sendable, CustomStringConvertible {
    /// The Maildir's directory.
    public let path: String
    /// The Maildir++ folder name (without its leading dot) when this is a folder, else `nil`.
    public let folderName: String?

    /// A Maildir at `path`.
    public init(path: String) {
        self.path = path
        self.folderName = nil
    }

    private init(path: String, folderName: String) {
        self.path = path
        self.folderName = folderName
    }

    /// The Maildir++ folder `name` of this Maildir: `<path>/.<name>`. The caller checks `name`
    /// with ``MailboxName/component(_:)`` first.
    public func folder(_ name: String) -> Maildir {
        Maildir(path: path + "/." + name, folderName: name)
    }

    public var tmp: String { path + "/tmp" }
    public var new: String { path + "/new" }
    public var cur: String { path + "/cur" }

    public var description: String { path }

    /// Whether `tmp/`, `new/` and `cur/` all exist.
    public var exists: Bool {
        [tmp, new, cur].allSatisfy { Self.isDirectory($0) }
    }

    /// Creates the Maildir (and its parents) if missing; a folder also gets its `maildirfolder`
    /// marker file (Maildir++). Directories are made with mode 0700.
    ///
    /// `tmp/` is made last: a delivery writes there as soon as it exists, so a Maildir with a
    /// `tmp/` is whole even when a crash stopped its creation. Made first, a kill -9 could leave
    /// `tmp/` holding a spool beside a missing `cur/`, a directory the start-up cleanup does not
    /// take for a Maildir (seen in the crash test: two leftovers not counted).
    public func create() throws(MaildirError) {
        if exists { return }
        try Self.makeDirectories(path)
        for directory in [cur, new, tmp] {
            if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw .last("mkdir", directory) }
        }
        if folderName != nil {
            let marker = path + "/maildirfolder"
            let descriptor = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw .last("open", marker) }
            close(descriptor)
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// `mkdir -p` with mode 0700 (the umask applies): the Maildirs, and the command line's data
    /// directory. An existing directory is fine.
    public static func makeDirectories(_ path: String) throws(MaildirError) {
        if isDirectory(path) { return }
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST { throw .last("mkdir", prefix) }
        }
    }

    /// fsyncs a directory, so that the names just created in it are durable.
    static func syncDirectory(_ path: String) throws(MaildirError) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .last("open", path) }
        defer { close(descriptor) }
        if fsync(descriptor) != 0 { throw .last("fsync", path) }
    }
}
