import Foundation
import Testing
import SMTPClient
import SMTPCore

/// `letterbox serve` running as a real process for one test, in a data directory of its own.
public final class AgentProcess: Sendable {
    /// The agent (or the wrapper running it); its standard output and error are collected.
    public let process: ChildProcess
    /// Its `--data-dir`.
    public let dataDir: String
    /// The LMTP socket it listens on.
    public let socket: String
    /// The mail root under the data directory.
    public var mailRoot: String { dataDir + "/mail" }
    /// The delivery log under the data directory.
    public var database: String { dataDir + "/deliveries.sqlite" }

    private init(process: ChildProcess, dataDir: String, socket: String) {
        self.process = process
        self.dataDir = dataDir
        self.socket = socket
    }

    /// Starts the agent with `arguments` after `serve --data-dir`; waits for its socket
    /// (`<data-dir>/lmtp.sock` unless `socket` is given). With `wrapper` (a program and its
    /// arguments, e.g. strace), that program runs the agent; `environment` is added to the
    /// test runner's for the agent alone; `executable`, another letterbox binary (an installed one).
    public static func start(in dataDir: String, socket: String? = nil, _ arguments: [String] = [],
                      under wrapper: [String] = [], environment: [String: String] = [:],
                      executable: String = letterboxExecutable()) async throws -> AgentProcess {
        let command = wrapper + [executable, "serve", "--data-dir", dataDir, "--hostname", "mx.test", "--log-level", "warning"]
            + (socket.map { ["--socket", $0] } ?? []) + arguments
        let process = try ChildProcess(command[0], Array(command.dropFirst()), environment: environment)
        let agent = AgentProcess(process: process, dataDir: dataDir, socket: socket ?? dataDir + "/lmtp.sock")
        for _ in 0..<400 {
            // The socket file appears at bind(2), a moment before listen(2): connect to be sure.
            if FileManager.default.fileExists(atPath: agent.socket), Self.accepts(agent.socket) { return agent }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        agent.stop()
        Issue.record("letterbox serve did not start: \(process.outputText)")
        throw CancellationError()
    }

    /// Waits up to 10 s for `marker` in what the agent has printed; returns all of it either way.
    public func waitForOutput(_ marker: String) async throws -> String {
        try await process.waitForOutput(marker)
    }

    /// Whether a Unix-domain stream socket at `path` accepts a connection (closed at once).
    public static func accepts(_ path: String) -> Bool {
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

    /// Sends SIGTERM and returns at once; a thread of its own (never one of the concurrency
    /// pool's, which other tests need) kills the agent if it has not exited within 10 s.
    public func stop() {
        guard process.isRunning else { return }
        process.signal(SIGTERM)
        let process = self.process
        Thread.detachNewThread {
            for _ in 0..<400 where process.isRunning { usleep(25_000) }
            if process.isRunning {
                process.signal(SIGKILL)
                print("letterbox serve did not exit within 10 s of SIGTERM; killed")
            }
        }
    }

    /// SIGTERM, then the exit status (SIGKILL after 10 s).
    public func stopAndWait() async -> Int32 {
        stop()
        return await process.exitStatus()
    }

    /// Every file in `new/` of the Maildir at `relative` (under the mail root).
    public func newFiles(_ relative: String) -> [String] {
        let directory = mailRoot + "/" + relative + "/new"
        return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted().map { directory + "/" + $0 }
    }

    /// Runs `letterbox` with `arguments` against this agent's data directory.
    public func letterbox(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runProcess(letterboxExecutable(), arguments + ["--data-dir", dataDir])
    }
}

extension AgentProcess {
    /// One message, with Message-ID `<id>` and a Subject of `id`, from s@y.test to `recipients`
    /// over LMTP: each recipient's reply.
    public func send(id: String, to recipients: [String]) async throws -> [Reply] {
        let client = try await Client.connect(to: .unix(path: socket), configuration: Client.Configuration(lmtp: true))
        let (writer, _) = try await client.beginMessage(from: .mailbox(Address("s@y.test")!), to: recipients.map { Address($0)! })
        try await writer.write("Message-ID: <\(id)>\r\nSubject: \(id)\r\n\r\nbody\r\n")
        let replies = try await writer.finishWithStatuses().map(\.reply)
        try await client.quit()
        return replies
    }

    /// Opens an LMTP transaction with the null sender and gives each of `recipients` in a RCPT:
    /// the reply code of each (250 when accepted); then QUIT. `endpoint`: where to connect
    /// instead of the agent's Unix socket.
    public func rcptCodes(_ recipients: [String], endpoint: Client.Endpoint? = nil) async throws -> [Int] {
        let client = try await Client.connect(to: endpoint ?? .unix(path: socket), configuration: Client.Configuration(lmtp: true))
        try await client.mail(from: "")
        var codes: [Int] = []
        for recipient in recipients {
            do {
                try await client.rcpt(to: recipient)
                codes.append(250)
            } catch let error as SMTPError {
                codes.append(error.code)
            }
        }
        try await client.quit()
        return codes
    }
}

/// Runs `script` with python3 (the test is skipped without it, ``External/require(_:)``).
public func python(_ script: String, _ arguments: [String] = []) async throws -> (status: Int32, output: String) {
    let python = try External.require("python3")
    return try await runProcess(python, ["-c", script] + arguments)
}
