import Foundation
import Testing
import TestSupport

/// `letterbox serve` running as a real process for one test, in a data directory of its own.
final class AgentProcess: Sendable {
    let process: Process
    let dataDir: String
    let output: Pipe
    let socket: String
    var mailRoot: String { dataDir + "/mail" }
    var database: String { dataDir + "/deliveries.sqlite" }

    private init(process: Process, dataDir: String, output: Pipe, socket: String) {
        self.process = process
        self.dataDir = dataDir
        self.output = output
        self.socket = socket
    }

    /// Starts the agent with `arguments` after `serve --data-dir`; waits for its socket
    /// (`<data-dir>/lmtp.sock` unless `socket` is given). With `wrapper` (a program and its
    /// arguments, e.g. strace), that program runs the agent.
    static func start(in dataDir: String, socket: String? = nil, _ arguments: [String] = [],
                      under wrapper: [String] = []) async throws -> AgentProcess {
        let process = Process()
        let command = wrapper + [letterboxExecutable(), "serve", "--data-dir", dataDir, "--hostname", "mx.test", "--log-level", "warning"]
            + (socket.map { ["--socket", $0] } ?? []) + arguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let agent = AgentProcess(process: process, dataDir: dataDir, output: output, socket: socket ?? dataDir + "/lmtp.sock")
        for _ in 0..<400 {
            // The socket file appears at bind(2), a moment before listen(2): connect to be sure.
            if FileManager.default.fileExists(atPath: agent.socket), Self.accepts(agent.socket) { return agent }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        agent.stop()
        Issue.record("letterbox serve did not start")
        throw CancellationError()
    }

    /// Whether a Unix-domain stream socket at `path` accepts a connection (closed at once).
    static func accepts(_ path: String) -> Bool {
        let descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
        }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }

    /// Sends SIGTERM and returns at once; a Dispatch thread (never one of the concurrency pool's,
    /// which other tests need) waits for the exit and kills the agent if it takes over 10 s.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let process = self.process
        DispatchQueue.global().async {
            for _ in 0..<400 where process.isRunning { usleep(25_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                print("letterbox serve did not exit within 10 s of SIGTERM; killed")
            }
        }
    }

    /// SIGTERM, then the exit status, waited for on a Dispatch thread.
    func stopAndWait() async -> Int32 {
        let process = self.process
        if process.isRunning { process.terminate() }
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                for _ in 0..<400 where process.isRunning { usleep(25_000) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                process.waitUntilExit()
                continuation.resume(returning: process.terminationStatus)
            }
        }
    }

    /// Every file in `new/` of the Maildir at `relative` (under the mail root).
    func newFiles(_ relative: String) -> [String] {
        let directory = mailRoot + "/" + relative + "/new"
        return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted().map { directory + "/" + $0 }
    }

    /// Runs `letterbox` with `arguments` against this agent's data directory.
    func letterbox(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runProcess(letterboxExecutable(), arguments + ["--data-dir", dataDir])
    }
}

/// Runs `script` with python3 (`nil`, an issue in CI, when python3 is missing).
func python(_ script: String, _ arguments: [String] = []) async throws -> (status: Int32, output: String)? {
    guard let python = External.find("python3") else { return nil }
    return try await runProcess(python, ["-c", script] + arguments)
}
