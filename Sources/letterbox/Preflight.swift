import Foundation

/// Checks `serve` and `deliver` make before they create anything: a directory or file they
/// will create or open must be creatable by this user.
enum Preflight {
    /// Nil when `path` exists as a writable directory (or, with `file`, a readable and writable
    /// file), or when it does not exist yet and its nearest existing ancestor is a directory
    /// this user may create entries in; else the errno that creating or opening it would meet.
    static func problem(creating path: String, file: Bool = false) -> Int32? {
        let found: (path: String, info: stat)
        switch nearestExisting(path) {
        case .success(let existing): found = existing
        case .failure(let failure): return failure.code
        }
        let isDirectory = found.info.st_mode & S_IFMT == S_IFDIR
        if found.path == path {
            if file { return isDirectory ? EISDIR : (access(path, R_OK | W_OK) == 0 ? nil : errno) }
            guard isDirectory else { return ENOTDIR }
            return access(path, W_OK | X_OK) == 0 ? nil : errno
        }
        guard isDirectory else { return ENOTDIR }
        return access(found.path, W_OK | X_OK) == 0 ? nil : errno
    }

    /// Why a path and none of its ancestors could be looked at: the errno of the last stat.
    struct Unreachable: Error {
        var code: Int32
    }

    /// `path` itself when it exists, else its nearest existing ancestor (`.` or `/` at the
    /// top), with what stat(2) says of it; fails with the errno of a stat that failed for
    /// another reason than a missing entry.
    static func nearestExisting(_ path: String) -> Result<(path: String, info: stat), Unreachable> {
        var info = stat()
        var candidate = path.isEmpty ? "." : path
        while stat(candidate, &info) != 0 {
            let code = errno
            let parent = parentDirectory(candidate)
            guard code == ENOENT, parent != candidate else { return .failure(Unreachable(code: code)) }
            candidate = parent
        }
        return .success((candidate, info))
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
