import Foundation

/// A fresh directory under the system's temporary directory, removed afterwards.
///
/// A test's agent gets SIGTERM in a `defer` and may still be closing its log when the body
/// returns; SQLite then writes its `-wal` file again into a directory being removed, which
/// makes the removal fail. So the removal is tried again, for up to 5 s, until the directory
/// is gone.
public func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("letterbox-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    let result: Result<T, any Error>
    do {
        result = .success(try await body(path))
    } catch {
        result = .failure(error)
    }
    for _ in 0..<100 {
        try? FileManager.default.removeItem(atPath: path)
        if !FileManager.default.fileExists(atPath: path) { break }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try result.get()
}
