import ServiceLifecycle

/// A server is a swift-service-lifecycle `Service`: in a `ServiceGroup`, ``Server/run()`` serves
/// until the group shuts down gracefully (a signal the group was configured with, or another
/// service ending), which it answers as ``Server/shutdown(gracePeriod:)`` does, with
/// ``Server/Configuration/shutdownGracePeriod``: listeners closed, idle connections answered
/// `421 4.3.2`, transactions in flight finished, and whatever is left at the deadline closed.
/// Cancelling the group's task closes everything at once (``Server/close()``).
extension Server: Service {}

extension Server {
    /// ``run()``'s body with the graceful-shutdown and cancellation handlers of a
    /// `ServiceGroup` around it (no-ops outside one).
    func runAsService(_ body: () async throws -> Void) async throws {
        let gracePeriod = configuration.shutdownGracePeriod
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await body()
            } onGracefulShutdown: {
                Task { await self.shutdown(gracePeriod: gracePeriod) }
            }
        } onCancel: {
            self.close()
        }
    }
}
