import CoreMetrics
import Dispatch

/// What the agent's file work reports through swift-metrics (a no-op until the program
/// bootstraps a metrics backend): how long a message's last write and the spool's sync took,
/// and how long a delivery waited for its links' `new/` syncs.
///
/// | Name | Kind |
/// |---|---|
/// | `letterbox_spool_write_seconds` | timer: the body's last batch written and the spool synced (or written back) |
/// | `letterbox_maildir_sync_seconds` | timer: the `new/` syncs of a delivery's links |
struct DeliveryMetrics: Sendable {
    let spoolWrite = Timer(label: "letterbox_spool_write_seconds")
    let maildirSync = Timer(label: "letterbox_maildir_sync_seconds")

    /// Runs `body`, recording its duration in `timer`.
    func timed<T>(_ timer: Timer, _ body: () throws -> T) rethrows -> T {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { timer.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started)) }
        return try body()
    }
}
