import Logging
import ServiceLifecycle

/// A service whose `run()` is a closure: how `serve` puts its start-up (the listeners) and the
/// server's run inside its service group. Logs "shutting down" at notice when the group shuts
/// down gracefully.
struct ClosureService: Service, CustomStringConvertible {
    let name: String
    let logger: Logger
    let body: @Sendable () async throws -> Void

    init(name: String, logger: Logger, _ body: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.logger = logger
        self.body = body
    }

    var description: String { name }

    func run() async throws {
        let logger = logger
        try await withGracefulShutdownHandler {
            try await body()
        } onGracefulShutdown: {
            logger.notice("shutting down")
        }
    }
}
