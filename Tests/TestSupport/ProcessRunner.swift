import Foundation

/// Runs a program to completion without blocking a thread of the concurrency pool. Its input
/// is written and its output read on Dispatch threads while it runs, so neither a large input
/// nor an output larger than a pipe's buffer can deadlock it.
public func runProcess(_ executable: String, _ arguments: [String], input: String? = nil,
                       environment: [String: String] = [:], currentDirectory: String? = nil) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let outputPipe = Pipe()
    process.standardOutput = outputPipe
    process.standardError = outputPipe
    let inputPipe = Pipe()
    process.standardInput = inputPipe
    let (exits, exited) = AsyncStream<Int32>.makeStream(bufferingPolicy: .bufferingNewest(1))
    process.terminationHandler = { process in
        exited.yield(process.terminationStatus)
        exited.finish()
    }
    try process.run()
    let writer = inputPipe.fileHandleForWriting
    let bytes = Data((input ?? "").utf8)
    DispatchQueue.global().async {
        if !bytes.isEmpty { try? writer.write(contentsOf: bytes) }
        try? writer.close()
    }
    let reader = outputPipe.fileHandleForReading
    let data: Data = await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: reader.readDataToEndOfFile()) }
    }
    var status: Int32 = -1
    for await code in exits { status = code }
    return (status, String(decoding: data, as: UTF8.self))
}

/// The `letterbox` executable built beside the test bundle.
public func letterboxExecutable() -> String {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("letterbox").path
}

/// The fenced code blocks of a Markdown file whose info string is `language`, e.g. every
/// ```` ```sql ```` block of a document, for tests that run what the documentation shows.
public func fencedBlocks(inFile path: String, language: String) throws -> [String] {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    var blocks: [String] = []
    var current: [String]?
    for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
        if line == "```" + language {
            current = []
        } else if line == "```", let block = current {
            blocks.append(block.joined(separator: "\n"))
            current = nil
        } else {
            current?.append(line)
        }
    }
    return blocks
}
