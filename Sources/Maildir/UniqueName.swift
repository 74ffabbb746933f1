import Foundation
import Synchronization

/// Unique file names for Maildir deliveries (the Maildir specification's modern form):
/// `<seconds>.M<microseconds>P<pid>Q<sequence>R<random>.<host>`, with `/` and `:` in the host
/// name written as `\057` and `\072` so the name stays one path component and the `:2,` info
/// separator stays unambiguous.
public final class UniqueNameGenerator: Sendable {
    private let host: String
    private let pid: Int32
    private let sequence = Atomic<UInt64>(0)

    /// Creates a generator for this process and `host` (default: the system's host name).
    public init(host: String = ProcessInfo.processInfo.hostName) {
        self.host = Self.escape(host.isEmpty ? "localhost" : host)
        self.pid = ProcessInfo.processInfo.processIdentifier
    }

    /// `/` → `\057`, `:` → `\072`.
    public static func escape(_ host: String) -> String {
        var escaped = ""
        for character in host {
            switch character {
            case "/": escaped += "\\057"
            case ":": escaped += "\\072"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// The next name.
    public func next() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let count = sequence.add(1, ordering: .relaxed).newValue
        let random = UInt32.random(in: 0...UInt32.max)
        return "\(now.tv_sec).M\(now.tv_nsec / 1000)P\(pid)Q\(count)R\(String(random, radix: 16)).\(host)"
    }
}
