#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading a whole small text file on the system calls directly, so that a failure carries the
/// system's errno: `/proc` files for the sync order, and the command line's configuration and
/// users files (Foundation's file errors on Linux often carry neither the errno nor a useful
/// text).
public enum TextFile {
    /// The whole file at `path`, as UTF-8 (invalid sequences replaced).
    public static func contents(of path: String) throws(MaildirError) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .last("open", path) }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .last("read", path)
            }
            if count == 0 { return String(decoding: contents, as: UTF8.self) }
            contents.append(contentsOf: chunk[0..<count])
        }
    }
}
