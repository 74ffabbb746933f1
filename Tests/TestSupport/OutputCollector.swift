import Foundation
import Synchronization

/// Everything a child process writes to a pipe, gathered as it arrives (on Foundation's
/// reading thread), so that a test can wait for a line without blocking on the pipe.
public final class OutputCollector: Sendable {
    private let data = Mutex(Data())

    /// Starts collecting what arrives on `pipe`.
    public init(_ pipe: Pipe) {
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let chunk = handle.availableData
            data.withLock { $0.append(chunk) }
        }
    }

    /// What arrived so far.
    public var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }

    /// Waits up to `seconds` for `count` occurrences of `marker`; returns the text either way.
    public func waitFor(_ marker: String, count: Int = 1, seconds: Double = 10) async throws -> String {
        for _ in 0..<Int(seconds * 40) {
            let text = self.text
            if text.components(separatedBy: marker).count - 1 >= count { return text }
            try await Task.sleep(for: .milliseconds(25))
        }
        return text
    }
}
