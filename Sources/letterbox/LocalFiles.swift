#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The few file operations the command line does itself (its configuration, the users file,
/// the data directory), on the system calls directly, so that a failure is the system's errno
/// (`POSIXError`), which ``describe(_:)`` prints as the system's words — not one of
/// Foundation's file errors, which on Linux often carry neither the errno nor a useful text.
enum LocalFiles {
    /// The whole file at `path`, as UTF-8 (invalid sequences replaced).
    static func readText(_ path: String) throws -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
            if count == 0 { return String(decoding: contents, as: UTF8.self) }
            contents.append(contentsOf: chunk[0..<count])
        }
    }

    /// Makes the directory `path` and any missing parents with `mode` (the umask applies);
    /// an existing directory is fine.
    static func makeDirectory(_ path: String, mode: mode_t) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, mode) == 0 || errno == EEXIST {
                var info = stat()
                guard stat(prefix, &info) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
                guard (info.st_mode & S_IFMT) == S_IFDIR else { throw POSIXError(.ENOTDIR) }
                continue
            }
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }
}
