import Foundation

/// Runs a program to completion without blocking a thread of the concurrency pool: its input
/// is written and its output (standard output and error together) read on threads of its own
/// while it runs, so neither a large input nor a large output can deadlock it.
public func runProcess(_ executable: String, _ arguments: [String], input: String? = nil,
                       environment: [String: String] = [:], currentDirectory: String? = nil) async throws -> (status: Int32, output: String) {
    let child = try ChildProcess(executable, arguments, environment: environment, currentDirectory: currentDirectory,
                                 input: input.map { Array($0.utf8) })
    let output = await child.outputToEnd()
    return (await child.exitStatus(), output)
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
