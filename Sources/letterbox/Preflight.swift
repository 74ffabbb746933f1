import Foundation

/// Checks `serve` and `deliver` make before they create anything: a directory or file they
/// will create or open must be creatable by this user.
enum Preflight {
    /// Nil when `path` exists as a writable directory (or, with `file`, a readable and writable
    /// file), or when it does not exist yet and its nearest existing ancestor is a directory
    /// this user may create entries in; else the errno that creating or opening it would meet.
    static func problem(creating path: String, file: Bool = false) -> Int32? {
        var info = stat()
        if stat(path, &info) == 0 {
            let isDirectory = info.st_mode & S_IFMT == S_IFDIR
            if file { return isDirectory ? EISDIR : (access(path, R_OK | W_OK) == 0 ? nil : errno) }
            guard isDirectory else { return ENOTDIR }
            return access(path, W_OK | X_OK) == 0 ? nil : errno
        }
        guard errno == ENOENT else { return errno }
        var ancestor = parentDirectory(path)
        while stat(ancestor, &info) != 0 {
            guard errno == ENOENT, ancestor != "/", ancestor != "." else { return errno }
            ancestor = parentDirectory(ancestor)
        }
        guard info.st_mode & S_IFMT == S_IFDIR else { return ENOTDIR }
        return access(ancestor, W_OK | X_OK) == 0 ? nil : errno
    }

    /// The directory holding `path`: `.` for a bare name, `/` for a name in the root; trailing
    /// slashes ignored. (NSString's deletingLastPathComponent crashes on some relative paths
    /// in swift-corelibs-foundation.)
    static func parentDirectory(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        if slash == trimmed.startIndex { return "/" }
        var parent = trimmed[..<slash]
        while parent.count > 1 && parent.hasSuffix("/") { parent = parent.dropLast() }
        return String(parent)
    }

    /// The sysexits status for a failure to create something: permission (77) or cannot
    /// create (73).
    static func status(for code: Int32) -> Int32 {
        code == EACCES || code == EPERM ? CommandExit.permission : CommandExit.cannotCreate
    }
}
