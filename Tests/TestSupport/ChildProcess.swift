import Foundation
import Synchronization

/// A program the tests run, started with `posix_spawn(3)` rather than Foundation's `Process`.
///
/// Foundation's `Process` on Linux reaps children from a shared manager thread and reads pipes
/// through Dispatch sources; with dozens of tests starting programs at once that machinery is
/// where rare crashes have been reported (swift-corelibs-foundation's `Process` races, the
/// `readabilityHandler` one among them). Here every child has a plain thread that waits for
/// it and, when its output is collected, one that reads it; nothing is shared between
/// children. The child starts with an empty signal mask and every signal at its default (the
/// test runner ignores SIGPIPE, and ignored signals survive `exec`), with standard input from
/// `/dev/null` unless input is given, and with no descriptor of the runner's beyond 0–2.
public final class ChildProcess: Sendable {
    /// Where the child's standard output or error goes.
    public enum Output: Sendable {
        /// `/dev/null`.
        case null
        /// The test runner's own (only for programs that end before the test does).
        case inherit
        /// Gathered by the test (both streams into one text when both are collected).
        case collect
    }

    private struct State {
        var status: Int32?
        var exitWaiters: [CheckedContinuation<Int32, Never>] = []
        var output: [UInt8] = []
        var outputEnded = false
        var outputWaiters: [CheckedContinuation<String, Never>] = []
    }

    /// The child's process ID (still reserved for it until its exit has been seen here).
    public let processIdentifier: pid_t
    private let state = Mutex(State())

    /// Starts `executable` (a path) with `arguments`; `environment` is added to the runner's.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                currentDirectory: String? = nil, input: [UInt8]? = nil,
                standardOutput: Output = .collect, standardError: Output = .collect) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        // Descriptors of the parent's side close in the child by O_CLOEXEC; the child's side is
        // dup2'ed onto 0–2 (which clears the flag there) and closed here after the spawn.
        var parentSide: [Int32] = []
        var childSide: [Int32] = []
        defer { for descriptor in childSide { close(descriptor) } }
        func makePipe() throws -> (read: Int32, write: Int32) {
            var descriptors: [Int32] = [-1, -1]
            guard Self.pipe2(&descriptors, O_CLOEXEC) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            return (descriptors[0], descriptors[1])
        }

        var inputWriter: Int32?
        if let input, !input.isEmpty {
            let pipe = try makePipe()
            childSide.append(pipe.read)
            inputWriter = pipe.write
            parentSide.append(pipe.write)
            posix_spawn_file_actions_adddup2(&actions, pipe.read, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        var outputReader: Int32?
        var outputWriter: Int32 = -1
        if standardOutput == .collect || standardError == .collect {
            let pipe = try makePipe()
            childSide.append(pipe.write)
            outputWriter = pipe.write
            outputReader = pipe.read
            parentSide.append(pipe.read)
        }
        for (descriptor, output) in [(Int32(1), standardOutput), (2, standardError)] {
            switch output {
            case .null: posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", O_WRONLY, 0)
            case .inherit: break
            case .collect: posix_spawn_file_actions_adddup2(&actions, outputWriter, descriptor)
            }
        }
        if let closeFrom = Self.closeFrom { _ = closeFrom(&actions, 3) }
        if let currentDirectory {
            guard let changeDirectory = Self.changeDirectory else { throw POSIXError(.ENOSYS) }
            _ = changeDirectory(&actions, currentDirectory)
        }

        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal: Int32 in 1..<32 where signal != SIGKILL && signal != SIGSTOP { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            for descriptor in parentSide { close(descriptor) }
            throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO)
        }
        processIdentifier = pid

        Thread.detachNewThread { [self] in reap() }
        if let inputWriter, let input {
            Thread.detachNewThread {
                input.withUnsafeBytes { bytes in
                    var offset = 0
                    while offset < bytes.count {
                        let written = write(inputWriter, bytes.baseAddress! + offset, bytes.count - offset)
                        if written < 0 && errno == EINTR { continue }
                        guard written > 0 else { break }
                        offset += written
                    }
                }
                close(inputWriter)
            }
        }
        if let outputReader {
            Thread.detachNewThread { [self] in collect(from: outputReader) }
        }
    }

    /// Whether the child has not exited yet.
    public var isRunning: Bool { state.withLock { $0.status == nil } }

    /// Sends `signal`, unless the child's exit has already been seen (its PID may be another
    /// process's by then).
    public func signal(_ signal: Int32) {
        state.withLock { state in
            if state.status == nil { kill(processIdentifier, signal) }
        }
    }

    /// The exit status once the child has exited: its exit code, or 128 + the signal that ended it.
    public func exitStatus() async -> Int32 {
        await withCheckedContinuation { continuation in
            let status = state.withLock { state -> Int32? in
                if state.status == nil { state.exitWaiters.append(continuation) }
                return state.status
            }
            if let status { continuation.resume(returning: status) }
        }
    }

    /// ``exitStatus()`` for synchronous callers: blocks the calling thread.
    public func waitUntilExit() -> Int32 {
        while true {
            if let status = state.withLock({ $0.status }) { return status }
            usleep(5_000)
        }
    }

    /// What the child wrote to its collected output so far.
    public var outputText: String { state.withLock { String(decoding: $0.output, as: UTF8.self) } }

    /// Everything the child writes to its collected output, once every writer has closed it.
    public func outputToEnd() async -> String {
        await withCheckedContinuation { continuation in
            let text = state.withLock { state -> String? in
                if !state.outputEnded {
                    state.outputWaiters.append(continuation)
                    return nil
                }
                return String(decoding: state.output, as: UTF8.self)
            }
            if let text { continuation.resume(returning: text) }
        }
    }

    /// Waits up to `seconds` for `count` occurrences of `marker` in the collected output;
    /// returns the text either way.
    public func waitForOutput(_ marker: String, count: Int = 1, seconds: Double = 10) async throws -> String {
        for _ in 0..<Int(seconds * 40) {
            let text = outputText
            if text.components(separatedBy: marker).count - 1 >= count { return text }
            try await Task.sleep(for: .milliseconds(25))
        }
        return outputText
    }

    // MARK: - The child's threads

    /// Waits for the exit without reaping (so that ``signal(_:)`` never reaches a reused PID),
    /// then reaps and records it under the lock.
    private func reap() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(processIdentifier), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        let waiters = state.withLock { state -> [CheckedContinuation<Int32, Never>] in
            var raw: Int32 = 0
            while waitpid(processIdentifier, &raw, 0) < 0 && errno == EINTR {}
            let signal = raw & 0x7f
            state.status = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
            defer { state.exitWaiters = [] }
            return state.exitWaiters
        }
        let status = state.withLock { $0.status ?? -1 }
        for waiter in waiters { waiter.resume(returning: status) }
    }

    private func collect(from descriptor: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            state.withLock { $0.output += buffer[0..<count] }
        }
        close(descriptor)
        let (waiters, text) = state.withLock { state in
            state.outputEnded = true
            defer { state.outputWaiters = [] }
            return (state.outputWaiters, String(decoding: state.output, as: UTF8.self))
        }
        for waiter in waiters { waiter.resume(returning: text) }
    }

    // MARK: - glibc extensions Swift's Glibc module does not declare (they need _GNU_SOURCE)

    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    private typealias ChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32

    /// `pipe2` (glibc 2.9): both ends close on exec from the start, so that no other test's
    /// child inherits them.
    private static let pipe2: Pipe2 = unsafeBitCast(dlsym(nil, "pipe2")!, to: Pipe2.self)
    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34).
    private static let closeFrom: CloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
        unsafeBitCast($0, to: CloseFrom.self)
    }
    /// `posix_spawn_file_actions_addchdir_np` (glibc 2.29).
    private static let changeDirectory: ChangeDirectory? = dlsym(nil, "posix_spawn_file_actions_addchdir_np").map {
        unsafeBitCast($0, to: ChangeDirectory.self)
    }
}
