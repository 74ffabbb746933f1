#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a Maildir operation failed: the system call, the path and `errno`. The caller decides
/// what that means for the client (disk full, quota, a temporary failure).
public struct MaildirError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was being done, e.g. `open`, `fsync`, `link`.
    public var operation: String
    /// The path it was done to.
    public var path: String
    /// The system's error number.
    public var errno: Int32

    /// Creates an error.
    public init(operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    /// The error for the last failed system call.
    static func last(_ operation: String, _ path: String) -> MaildirError {
        #if canImport(Glibc)
        MaildirError(operation: operation, path: path, errno: Glibc.errno)
        #else
        MaildirError(operation: operation, path: path, errno: Darwin.errno)
        #endif
    }

    /// Whether the file system is full (ENOSPC).
    public var isDiskFull: Bool { errno == ENOSPC }

    /// Whether a quota or file-size limit of the system refused the write (EDQUOT, EFBIG).
    public var isQuotaExceeded: Bool { errno == EDQUOT || errno == EFBIG }

    public var description: String {
        "\(operation) \(path): \(String(cString: strerror(errno)))"
    }
}
