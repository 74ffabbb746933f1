import Foundation

/// Runs a program to completion without blocking a thread of the concurrency pool.
public func runProcess(_ executable: String, _ arguments: [String], input: String? = nil,
                       environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let outputPipe = Pipe()
    process.standardOutput = outputPipe
    process.standardError = outputPipe
    let inputPipe = Pipe()
    process.standardInput = inputPipe
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { process in continuation.resume(returning: process.terminationStatus) }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
            return
        }
        if let input { inputPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try? inputPipe.fileHandleForWriting.close()
    }
    let data = outputPipe.fileHandleForReading.readDataToEndOfFile()
    return (status, String(decoding: data, as: UTF8.self))
}

/// The `letterbox` executable built beside the test bundle.
public func letterboxExecutable() -> String {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("letterbox").path
}
