import Foundation

/// A private PostgreSQL server for one test, from Debian's `postgresql` package: a cluster made
/// with `initdb` in a directory of the test's own, listening only on a Unix socket there, with
/// a database `letterbox`. As root, the cluster is made and run as the `postgres` user (initdb
/// refuses root). Without PostgreSQL the test is skipped (a failure in CI).
public final class PostgresServer: Sendable {
    /// The cluster's directory, also the directory of its Unix socket.
    public let directory: String
    private let binaries: String
    private let runAs: [String]
    /// The server's command-line settings (`pg_ctl -o`), given at every start.
    private let options: String

    /// The log's URL for letterbox: the `letterbox` database over the socket.
    public var url: String { "postgresql://postgres@/letterbox?host=\(directory)" }

    private init(directory: String, binaries: String, runAs: [String], options: String) {
        self.directory = directory
        self.binaries = binaries
        self.runAs = runAs
        self.options = options
    }

    /// Makes and starts a cluster in `directory`, made here (its path must be short: a socket's path is
    /// limited to about 100 octets), with `settings` (`name=value`) on its command line.
    public static func start(in directory: String, settings: [String] = []) async throws -> PostgresServer {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted()
        guard let version = versions.last(where: { FileManager.default.isExecutableFile(atPath: "\(root)/\($0)/bin/initdb") })
        else { try External.unavailable("PostgreSQL's initdb is missing (apt-get install postgresql)") }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var runAs: [String] = []
        if getuid() == 0 {
            // The server's user must reach its directory through the test's own.
            chmod((directory as NSString).deletingLastPathComponent, 0o755)
            runAs = [try External.require("runuser"), "-u", "postgres", "--"]
            guard let user = getpwnam("postgres") else { try External.unavailable("there is no postgres user") }
            chmod(directory, 0o755)
            chown(directory, user.pointee.pw_uid, user.pointee.pw_gid)
        }
        let options = (["-k \(directory)", "-c listen_addresses=''", "-c fsync=off"] + settings.map { "-c \($0)" })
            .joined(separator: " ")
        let server = PostgresServer(directory: directory, binaries: "\(root)/\(version)/bin", runAs: runAs, options: options)
        let made = try await server.run("initdb", ["-D", directory + "/data", "-A", "trust", "-U", "postgres", "--no-sync"])
        guard made.status == 0 else { throw SetupFailure("initdb failed: \(made.output)") }
        try await server.restart()
        let created = try await server.run("createdb", ["-h", directory, "-U", "postgres", "letterbox"])
        guard created.status == 0 else {
            await server.stop()
            throw SetupFailure("createdb failed: \(created.output)")
        }
        return server
    }

    /// Runs `body` with a server of its own in a new temporary directory (given as the second
    /// argument), stopped afterwards.
    public static func with<T>(_ body: (PostgresServer, String) async throws -> T) async throws -> T {
        try await withTemporaryDirectory { directory in
            let server = try await PostgresServer.start(in: directory + "/pg")
            do {
                let result = try await body(server, directory)
                await server.stop()
                return result
            } catch {
                await server.stop()
                throw error
            }
        }
    }

    /// The URL of the `letterbox` database for `user` with `password`, with the URL
    /// parameters `extra` (e.g. `options=...`) added.
    public func url(user: String = "postgres", password: String? = nil, extra: String = "") -> String {
        let credentials = user + (password.map { ":" + $0 } ?? "")
        return "postgresql://\(credentials)@/letterbox?host=\(directory)" + (extra.isEmpty ? "" : "&" + extra)
    }

    /// Makes `user` a login role with `password`, and makes the server ask it for that password
    /// (SCRAM-SHA-256) on the Unix socket, where every other user is still trusted.
    public func requirePassword(user: String, password: String) async throws {
        let created = try await psql("CREATE ROLE \(user) LOGIN SUPERUSER PASSWORD '\(password)'")
        guard created.status == 0 else { throw SetupFailure("CREATE ROLE failed: \(created.output)") }
        let hba = directory + "/data/pg_hba.conf"
        let rules = try String(contentsOfFile: hba, encoding: .utf8)
        try ("local all \(user) scram-sha-256\n" + rules).write(toFile: hba, atomically: false, encoding: .utf8)
        let reloaded = try await run("pg_ctl", ["-D", directory + "/data", "reload"])
        guard reloaded.status == 0 else { throw SetupFailure("pg_ctl reload failed: \(reloaded.output)") }
        try await Task.sleep(for: .milliseconds(300))   // the postmaster rereads it on the signal
    }

    /// Runs `psql` with `sql` on the `letterbox` database; its output, unaligned and without
    /// headers.
    public func psql(_ sql: String) async throws -> (status: Int32, output: String) {
        try await run("psql", ["-h", directory, "-U", "postgres", "-d", "letterbox", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                               "-c", sql])
    }

    /// Holds `table`'s strongest lock (ACCESS EXCLUSIVE: every read and write of it waits) for
    /// `seconds` in a session of its own; returns once the lock is held, with the `psql`
    /// holding it.
    public func lock(_ table: String, seconds: Int) async throws -> ChildProcess {
        let command = runAs + [binaries + "/psql", "-h", directory, "-U", "postgres", "-d", "letterbox", "-X", "-q",
                               "-c", "LOCK TABLE \(table) IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(\(seconds))"]
        let holder = try ChildProcess(command[0], Array(command.dropFirst()), currentDirectory: directory)
        for _ in 0..<200 {
            let held = try await psql("""
                SELECT count(*) FROM pg_locks WHERE relation = '\(table)'::regclass AND mode = 'AccessExclusiveLock' AND granted
                """)
            if held.output.trimmingCharacters(in: .whitespacesAndNewlines) == "1" { return holder }
            try await Task.sleep(for: .milliseconds(25))
        }
        holder.signal(SIGTERM)
        throw SetupFailure("the lock on \(table) was not taken: \(holder.outputText)")
    }

    /// Lets go of `table`'s lock held by ``lock(_:seconds:)``: ends the session holding it
    /// (its `pg_sleep` would otherwise hold it to the end), and waits for its `psql`.
    public func unlock(_ table: String, holder: ChildProcess) async throws {
        let ended = try await psql("""
            SELECT pg_terminate_backend(pid) FROM pg_locks
            WHERE relation = '\(table)'::regclass AND mode = 'AccessExclusiveLock' AND granted
            """)
        guard ended.status == 0 else { throw SetupFailure("pg_terminate_backend failed: \(ended.output)") }
        _ = await holder.exitStatus()
    }

    /// Stops the server (fast shutdown) and waits for it.
    public func stop() async {
        _ = try? await run("pg_ctl", ["-D", directory + "/data", "-m", "fast", "-w", "stop"])
    }

    /// Starts it (again, after ``stop()``).
    public func restart() async throws {
        let started = try await run("pg_ctl", ["-D", directory + "/data", "-o", options, "-l", directory + "/log", "-w", "start"])
        guard started.status == 0 else {
            throw SetupFailure("pg_ctl start failed: \(started.output) \((try? String(contentsOfFile: directory + "/log", encoding: .utf8)) ?? "")")
        }
    }

    /// Runs one of PostgreSQL's programs in the cluster's directory (as the postgres user it
    /// could not enter the test's own working directory, and would say so in its output).
    private func run(_ program: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let command = runAs + [binaries + "/" + program] + arguments
        return try await runProcess(command[0], Array(command.dropFirst()), currentDirectory: directory)
    }
}
