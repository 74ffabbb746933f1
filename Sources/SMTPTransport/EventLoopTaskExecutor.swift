import NIOCore

/// A task executor (SE-0417) that runs every job of a connection's task on the connection's
/// own event loop.
///
/// A connection's task spends its life waiting for the next line from its channel and writing
/// a reply back to it. Without a preference each wake-up is scheduled on Swift's global
/// executor, on another thread than the channel's, and each write hops back to the event loop:
/// two thread hand-offs per command. With this preference the task resumes on the thread that
/// read the bytes, and its writes happen there at once.
package final class EventLoopTaskExecutor: TaskExecutor {
    /// The loop the jobs run on.
    package let eventLoop: any EventLoop

    /// Creates an executor for one event loop.
    package init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
