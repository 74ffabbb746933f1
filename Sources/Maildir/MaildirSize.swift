#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Maildir++ quota accounting: the `maildirsize` file at the top of a user's Maildir. Its first
/// line defines the quota (`<bytes>S`); every other line is a change `<bytes> <messages>`, and
/// their sum is the usage. The file is rebuilt by scanning the Maildir and its folders when it
/// is missing, grew past 5,120 octets, or defines another quota — as Courier and Dovecot do.
public enum MaildirSize {
    /// What a Maildir holds.
    public struct Usage: Hashable, Sendable {
        public var bytes: Int
        public var messages: Int

        public init(bytes: Int, messages: Int) {
            self.bytes = bytes
            self.messages = messages
        }
    }

    static let rebuildThreshold = 5120

    /// The usage of `maildir` (the user's top Maildir) under a quota of `limit` octets.
    public static func usage(of maildir: Maildir, limit: Int) throws(MaildirError) -> Usage {
        let path = maildir.path + "/maildirsize"
        let definition = "\(limit)S"
        if let text = read(path), text.utf8.count < rebuildThreshold {
            let lines = text.split(separator: "\n")
            if lines.first.map(String.init) == definition {
                var usage = Usage(bytes: 0, messages: 0)
                for line in lines.dropFirst() {
                    let fields = line.split(separator: " ")
                    guard fields.count == 2, let bytes = Int(fields[0]), let messages = Int(fields[1]) else { continue }
                    usage.bytes += bytes
                    usage.messages += messages
                }
                return usage
            }
        }
        let usage = scan(maildir)
        try write(path, "\(definition)\n\(usage.bytes) \(usage.messages)\n")
        return usage
    }

    /// Records a delivery of `bytes` octets (one message) in `maildir`'s `maildirsize`, if the
    /// file exists (a single appended line, as the Maildir++ rules ask).
    public static func record(bytes: Int, in maildir: Maildir) {
        let path = maildir.path + "/maildirsize"
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        let line = Array("\(bytes) 1\n".utf8)
        _ = line.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
    }

    /// Sums the messages in `cur/` and `new/` of the Maildir and of each of its folders, taking
    /// sizes from `S=` in the names when present.
    static func scan(_ maildir: Maildir) -> Usage {
        var usage = Usage(bytes: 0, messages: 0)
        var directories = [maildir.path]
        for entry in Maildir.entries(maildir.path) where entry.hasPrefix(".") {
            if Maildir.isDirectory(maildir.path + "/" + entry) { directories.append(maildir.path + "/" + entry) }
        }
        for directory in directories {
            for sub in ["cur", "new"] {
                let path = directory + "/" + sub
                for name in Maildir.entries(path) where !name.hasPrefix(".") {
                    usage.messages += 1
                    usage.bytes += sizeFromName(name) ?? fileSize(path + "/" + name)
                }
            }
        }
        return usage
    }

    /// The `S=` field of a Maildir file name.
    static func sizeFromName(_ name: String) -> Int? {
        let base = name.split(separator: ":", maxSplits: 1).first ?? Substring(name)
        for field in base.split(separator: ",").dropFirst() where field.hasPrefix("S=") {
            return Int(field.dropFirst(2))
        }
        return nil
    }

    static func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }

    static func read(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count <= rebuildThreshold {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Replaces the file atomically (a temporary name, then rename).
    static func write(_ path: String, _ text: String) throws(MaildirError) {
        let temporary = path + ".\(getpid()).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .last("open", temporary) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        guard written == bytes.count else {
            unlink(temporary)
            throw .last("write", temporary)
        }
        if rename(temporary, path) != 0 {
            unlink(temporary)
            throw .last("rename", path)
        }
    }
}
