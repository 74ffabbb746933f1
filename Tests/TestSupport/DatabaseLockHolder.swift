import Foundation

/// Another process holding an SQLite database's write lock (`BEGIN EXCLUSIVE` from Python's
/// sqlite3, a peer nobody here wrote), for tests of what the log's writers do meanwhile. It
/// holds the lock for 60 s at most; ``release()`` ends it sooner.
public final class DatabaseLockHolder: Sendable {
    private let process: ChildProcess

    private init(process: ChildProcess) {
        self.process = process
    }

    /// Starts the holder on `database` and returns once it has the lock; without python3 the
    /// test is skipped (``External/require(_:)``).
    public static func hold(_ database: String) async throws -> DatabaseLockHolder {
        let python = try External.require("python3")
        let process = try ChildProcess(python, ["-c", """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
            c.execute('BEGIN EXCLUSIVE')
            print('locked', flush=True)
            time.sleep(60)
            """, database])
        _ = try await process.waitForOutput("locked")
        return DatabaseLockHolder(process: process)
    }

    /// Kills the holder (its lock goes with it) and waits until it is gone.
    public func release() async {
        kill()
        _ = await process.exitStatus()
    }

    /// Kills the holder without waiting (for a `defer`).
    public func kill() {
        process.signal(SIGKILL)
    }
}
