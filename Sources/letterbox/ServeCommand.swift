import ArgumentParser
import CMallocTuning
import DeliveryLog
import Dispatch
import Foundation
import LocalDelivery
import Logging
import Maildir
import NIOCore
import NIOPosix
import PostgresAccess
import SMTPCore
import SMTPServer
import ServiceLifecycle
import Synchronization

/// `letterbox serve`: the LMTP delivery agent.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the LMTP delivery agent.",
        discussion: """
        With no options it keeps everything under ./letterbox-data: the socket lmtp.sock, the \
        Maildirs under mail/, the delivery log deliveries.sqlite. SIGTERM or SIGINT finish the \
        transactions in flight, then exit; SIGHUP reloads the users file. Sockets passed by \
        systemd (LISTEN_FDS) are used instead of --socket.
        """
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(name: .long, help: "The Unix socket to listen on (default <data-dir>/lmtp.sock).")
    var socket: String?

    @Option(name: .long, help: "The socket's file mode, in octal.")
    var socketMode: String = "0660"

    @Option(name: .long, help: "Also listen for LMTP on this TCP address, e.g. 127.0.0.1:24.")
    var tcp: String?

    @OptionGroup var delivery: DeliveryOptions

    @Option(name: .long, help: """
        The command that submits the delivery notices a sender asks for with NOTIFY=SUCCESS \
        (letterbox announces DSN), with its arguments; the notice comes on standard input, \
        from the null sender. Default /usr/sbin/sendmail when it exists; "none" sends none.
        """)
    var sendmail: String?

    @Option(name: .long, help: """
        Serve the metrics (connections, messages, recipients by outcome and reply class, sizes, \
        DATA, sync and log-commit times) for Prometheus at http://HOST:PORT/metrics, e.g. \
        127.0.0.1:9824. Off by default.
        """)
    var metrics: String?

    @Option(name: .long, help: "The largest message accepted, in octets (K, M, G suffixes).")
    var maxMessageSize: String = "50M"

    @Option(name: .long, help: "The most recipients in one transaction.")
    var maxRecipients: Int = 1000

    @Option(name: .long, help: "The least severe messages logged.")
    var logLevel: Logger.Level = .info

    @Option(name: .long, help: "Log lines as text or as JSON objects.")
    var logFormat: StandardErrorLogHandler.Format = .text

    @Option(name: .long, help: """
        Remove the delivery log's rows older than this (e.g. 90d), at start and then once a day, \
        as `deliveries prune` does; not shorter than --duplicate-window. Without it rows are kept.
        """)
    var retention: String?

    @Option(name: .long, help: """
        How often every Maildir's tmp/ is swept of files untouched for 36 hours (leftovers of \
        interrupted deliveries, maildir(5)), besides the sweep at start; 0 sweeps only at start.
        """)
    var tmpSweep: String = "12h"

    @Option(name: .long, help: """
        Threads serving the protocol (the file work runs on 16 threads of its own). One carries \
        several times what the disk work allows (docs/performance.md); more pay off only with \
        many cores and thousands of connections.
        """)
    var eventLoops: Int = 1

    func run() async throws {
        guard let mode = mode_t(socketMode, radix: 8) else { throw ValidationError("--socket-mode must be octal, e.g. 0660") }
        guard let maxSize = UserDirectory.size(maxMessageSize) else { throw ValidationError("bad --max-message-size") }
        guard (1...256).contains(eventLoops) else { throw ValidationError("--event-loops must be between 1 and 256") }
        // Everything is checked before anything is created or a listener announced: the
        // options, the users, the listeners, and that the directories and the log can be made.
        let dataDir = data.resolvedDataDir
        // Started as root: the data directory's owner (or --user) from here on, before any
        // check, so that the checks are this user's rights and nothing is made as root.
        let owner = try data.becomeOwner()
        var deliveryConfiguration = try delivery.configuration(dataDir: dataDir)
        if let sendmail, sendmail != "none" {
            let command = sendmail.split(separator: " ").map(String.init)
            guard let program = command.first, access(program, X_OK) == 0 else {
                throw CommandFailure("bad --sendmail: \(sendmail): not an executable program (\"none\" sends no notices)",
                                     status: CommandExit.configuration)
            }
            deliveryConfiguration.sendmail = command
        } else if sendmail == nil, access("/usr/sbin/sendmail", X_OK) == 0 {
            deliveryConfiguration.sendmail = ["/usr/sbin/sendmail"]
        }
        guard let sweepInterval = parseDuration(tmpSweep) else {
            throw CommandFailure("bad --tmp-sweep: \(tmpSweep): a duration such as 12h, or 0", status: CommandExit.configuration)
        }
        var retentionAge: TimeInterval?
        if let retention {
            guard let age = parseDuration(retention), age > 0 else {
                throw CommandFailure("bad --retention: \(retention): a duration such as 90d", status: CommandExit.configuration)
            }
            guard age >= deliveryConfiguration.duplicateWindow else {
                throw CommandFailure("bad --retention: \(retention) is shorter than --duplicate-window \(delivery.duplicateWindow): "
                                     + "the duplicate check needs the rows of its window", status: CommandExit.configuration)
            }
            retentionAge = age
        }
        let mailRoot = deliveryConfiguration.mailRoot
        let hostname = delivery.hostname
        let socketPath = socket ?? dataDir + "/lmtp.sock"
        let userDirectory = try delivery.loadUsers()
        if let table = userDirectory as? PostgresUsers {
            // A query PostgreSQL cannot run would defer every recipient: refused now instead.
            if let problem = await table.check() {
                throw CommandFailure("bad --users-query: \(problem)", status: CommandExit.configuration)
            }
        }
        let metricsListener = try metrics.map { try HostPort($0, option: "--metrics") }
        var endpoints = Server.Endpoint.systemdSockets(environment: ProcessInfo.processInfo.environment)
        if endpoints.isEmpty { endpoints.append(.unix(path: socketPath, mode: mode)) }
        if let tcp {
            let listener = try HostPort(tcp, option: "--tcp")
            endpoints.append(.tcp(host: listener.host, port: listener.port))
        }
        var directories = [("data directory", dataDir), ("mail root", mailRoot)]
        for case .unix(let path, _) in endpoints {
            directories.append(("socket's directory", Preflight.parentDirectory(path)))
        }
        for (what, directory) in directories where !directory.isEmpty {
            if let code = Preflight.problem(creating: directory) {
                throw CommandFailure("cannot create the \(what): \(directory): \(String(cString: strerror(code)))",
                                     status: Preflight.status(for: code))
            }
        }
        for endpoint in endpoints + (metricsListener.map { [.tcp(host: $0.host, port: $0.port)] } ?? []) {
            do {
                try endpoint.checkAvailable()
            } catch {
                throw Self.listenFailure(error)
            }
        }
        if !PostgresLocation.isURL(data.resolvedDatabase), let code = Preflight.problem(creating: data.resolvedDatabase, file: true) {
            throw CommandFailure("cannot open the delivery log: \(data.displayedDatabase): \(String(cString: strerror(code)))",
                                 status: Preflight.status(for: code))
        }

        // Mail and the log are private to the delivery user: files 0600, directories 0700.
        umask(0o077)
        // Each connection holds a socket and, while delivering, a file: raise the soft limit on
        // descriptors (often 1,024) to the hard one, as a busy MTA opens many connections.
        #if canImport(Glibc)
        let nofile = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let nofile = RLIMIT_NOFILE
        #endif
        var descriptors = rlimit()
        if getrlimit(nofile, &descriptors) == 0, descriptors.rlim_cur < descriptors.rlim_max {
            descriptors.rlim_cur = descriptors.rlim_max
            setrlimit(nofile, &descriptors)
        }
        LoggingSystem.bootstrap { label in StandardErrorLogHandler(label: label, format: logFormat, logLevel: logLevel) }
        // Before the log and the server are made: they take their metric handles then.
        let registry = metricsListener.map { _ in MetricsEndpoint.bootstrap() }
        let logger = Logger(label: "letterbox")

        for (what, directory) in directories where !directory.isEmpty {
            do {
                try Maildir.makeDirectories(directory)
            } catch {
                throw CommandFailure("cannot create the \(what): \(directory): \(describe(error))", status: CommandExit.cannotCreate)
            }
        }
        if let owner { print("letterbox: running as \(owner), the owner of \(dataDir)") }
        if let table = userDirectory as? PostgresUsers {
            print("letterbox: users from PostgreSQL \(table.server)")
        }
        if deliveryConfiguration.fsync {
            // Which order of syncs this file system allows (see FileSystemOrdering), for the operator.
            let finding = FileSystemOrdering.finding(forPath: mailRoot)
            let order = deliveryConfiguration.syncOrder == .automatic && finding.ordersDataBeforeLinks
                ? "data written back before the link, durable with new/"
                : "file fsynced before the link"
            print("letterbox: mail root \(mailRoot) on \(finding): \(order)")
        }
        let log: DeliveryLog
        do {
            log = try DeliveryLog(location: data.resolvedDatabase, durable: delivery.durable)
        } catch {
            throw CommandFailure("cannot open the delivery log: \(data.displayedDatabase): \(describe(error))", status: 75)
        }
        // Closed on every way out; the normal one below reports a failure to close.
        defer { try? log.close() }
        let pool = NIOThreadPool(numberOfThreads: 16)
        pool.start()
        let backend = LocalDeliveryBackend(configuration: deliveryConfiguration, log: log, users: userDirectory,
                                           logger: logger, pool: pool)
        // DSN announced (RFC 3461): Postfix then passes each recipient's ORCPT, which fills the
        // log's original_recipient and X-Original-To. As the final delivery agent, letterbox
        // sends no notice itself: for LMTP, Postfix reports "delivered" and sends the success
        // notice NOTIFY=SUCCESS asked for (docs/postfix.md; tested).
        let session = ServerConfiguration(lmtp: true, hostname: hostname, maximumRecipients: maxRecipients,
                                          maximumMessageBytes: maxSize, authDisabled: true, enableDSN: true)
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: eventLoops)
        let server = Server(backend: backend, configuration: Server.Configuration(session: session), logger: logger,
                            eventLoopGroup: loops)

        // SIGHUP reloads the users; SIGTERM and SIGINT are the service group's (below).
        let usersPath = delivery.users
        let reloads = handleSignals([SIGHUP]) { _ in
            guard let usersPath else { return }
            if let table = userDirectory as? PostgresUsers {
                table.forget()
                logger.notice("users table: remembered answers forgotten")
                return
            }
            do {
                backend.reloadUsers(try DeliveryOptions.loadUsers(usersPath))
                logger.notice("users reloaded", metadata: ["file": "\(usersPath)"])
            } catch {
                logger.error("users file not reloaded: \(error)")
            }
        }
        // The agent runs as a swift-service-lifecycle service group: SIGTERM or SIGINT shut it
        // down gracefully (the server finishes the transactions in flight, up to 30 s), and the
        // group's signal handlers are in place before any listener exists, so a stop request
        // is never lost. The listeners are made inside the service for that reason.
        let listening = endpoints
        let retainFor = retentionAge
        let summary = "letterbox \(PackageVersion.current): mail in \(mailRoot), delivery log \(data.displayedDatabase) (\(log.summary))"
        let database = (location: data.resolvedDatabase, name: data.displayedDatabase)
        let agent = ClosureService(name: "letterbox serve", logger: logger) {
            for endpoint in listening {
                let address: SocketAddress?
                do {
                    address = try await server.listen(endpoint)
                } catch Server.ListenError.alreadyRunning {
                    return   // stopped while starting: nothing to finish
                } catch let error as Server.ListenError {
                    throw Self.listenFailure(error)
                } catch {
                    throw CommandFailure("cannot listen: \(endpoint): \(describe(error))", status: CommandExit.cannotCreate)
                }
                print("letterbox: LMTP on \(endpoint)\(address.flatMap { $0.port }.map { " (port \($0))" } ?? "")")
            }
            var metricsChannel: (any Channel)?
            if let metricsListener, let registry {
                do {
                    let channel = try await MetricsEndpoint.listen(host: metricsListener.host, port: metricsListener.port,
                                                                   registry: registry, group: loops)
                    metricsChannel = channel
                    print("letterbox: metrics on http://\(metricsListener.host):\(channel.localAddress?.port ?? metricsListener.port)/metrics")
                } catch {
                    throw CommandFailure("cannot listen: tcp:\(metricsListener.host):\(metricsListener.port): \(describe(error))",
                                         status: CommandExit.cannotCreate)
                }
            }
            print(summary)
            let arenas = letterbox_malloc_arena_limit()
            logger.debug("malloc arenas", metadata: ["limit": "\(arenas == 0 ? "glibc default or environment" : "\(arenas)")"])
            fflush(nil)   // all streams: the listening lines reach a pipe at once
            // Leftovers of deliveries interrupted before this start (a crash, a kill -9): tmp/
            // files past the Maildir rule's 36 hours go; younger ones are reported. Files made
            // after the start belong to deliveries in progress and are not looked at. Later
            // sweeps remove what has turned 36 hours old since, and report only that.
            let started = Maildir.currentTime()
            let sweeping = Task {
                let cleanup = try? await pool.runIfActive { TemporaryFileCleanup.run(mailRoot: mailRoot, startedAt: started) }
                cleanup?.log(to: logger)
                guard sweepInterval > 0 else { return }
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(Int64(sweepInterval * 1000)))
                    guard !Task.isCancelled else { return }
                    let swept = try? await pool.runIfActive { TemporaryFileCleanup.run(mailRoot: mailRoot, startedAt: Maildir.currentTime()) }
                    swept?.logRemovals(to: logger)
                }
            }
            let pruning = retainFor.map { age in
                Task { await Self.applyRetention(age, to: database.location, named: database.name, logger: logger) }
            }
            defer {
                pruning?.cancel()
                sweeping.cancel()
            }
            try await server.run()
            try? await metricsChannel?.close()
        }
        var group = ServiceGroupConfiguration(services: [.init(service: agent, serviceName: "letterbox serve")], logger: logger)
        group.gracefulShutdownSignals = [.sigterm, .sigint]
        group.maximumGracefulShutdownDuration = .seconds(40)
        try await ServiceGroup(configuration: group).run()
        for source in reloads { source.cancel() }
        try await pool.shutdownGracefully()
        try await loops.shutdownGracefully()
        // Every delivery has ended: its rows are committed. The writing connection closes
        // last, so that when no other process has the log open it checkpoints the WAL.
        do {
            try log.close()
        } catch {
            throw CommandFailure("closing the delivery log: \(data.displayedDatabase): \(describe(error))", status: 75)
        }
    }

    /// Prunes the log of rows older than `age` now and then every 24 hours, until cancelled;
    /// each pass on a connection of its own, in batches (``DeliveryLogPruner``).
    static func applyRetention(_ age: TimeInterval, to location: String, named name: String, logger: Logger) async {
        while !Task.isCancelled {
            let cutoff = Date(timeIntervalSinceNow: -age)
            do {
                let pruner = try DeliveryLogPruner(location: location)
                defer { pruner.close() }
                let removed = try await pruner.prune(before: cutoff)
                logger.notice("delivery log pruned", metadata: ["removed": "\(removed)", "before": "\(Timestamp.format(cutoff))"])
            } catch {
                logger.error("delivery log not pruned: \(name): \(describe(error))")
            }
            try? await Task.sleep(for: .seconds(24 * 3600))
        }
    }

    /// A listener that cannot be made: 77 when not allowed (a port below 1024, a directory of
    /// someone else's), else 73.
    static func listenFailure(_ error: Server.ListenError) -> CommandFailure {
        if case .cannotBind(_, let code) = error, code == EACCES || code == EPERM {
            return CommandFailure("cannot listen: \(error)", status: CommandExit.permission)
        }
        return CommandFailure("cannot listen: \(error)", status: CommandExit.cannotCreate)
    }
}
