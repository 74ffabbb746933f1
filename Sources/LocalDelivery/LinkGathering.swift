import Dispatch
import Synchronization

/// The deliveries on their way to their links, so that one that has linked can wait a moment
/// for the others before it syncs its `new/`: on a journaled file system every `new/` sync
/// commits the journal's running transaction, and links made while that commit is written go
/// into the next one, so a delivery that syncs the moment it has linked leaves those just
/// behind it a commit of their own. Waiting up to ``window`` for them (the way a database's
/// group commit waits for its next writers) puts more links into one commit, fewer disk
/// flushes per message (docs/performance.md has the figures).
///
/// A delivery counts as on its way from the moment its body begins (``approach()``), not only
/// once its last step has it in hand: the deliveries whose last bytes are still arriving are
/// then waited for too.
final class LinkGathering: Sendable {
    private struct State {
        /// Deliveries that began their last step and have not linked (or given up) yet.
        var approaching = 0
        /// Deliveries waiting for them, each woken by its own semaphore.
        var waiting: [DispatchSemaphore] = []
    }

    private let state = Mutex(State())
    /// How long a delivery waits for the others at most.
    let window: Double
    /// Told how many waiting deliveries a release wakes, before they are woken (the agent
    /// announces their commit requests to the log with it).
    let onRelease: @Sendable (Int) -> Void

    /// `window` in seconds; 0 never waits.
    init(window: Double, onRelease: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.window = window
        self.onRelease = onRelease
    }

    /// A delivery is on its way to its links (its body began): it will link shortly. Its
    /// ``Arrival`` says when it has linked, or will not.
    func approach() -> Arrival {
        state.withLock { $0.approaching += 1 }
        return Arrival(self)
    }

    /// One delivery's place among those on their way (``approach()``), given up once, however
    /// many of its paths call ``arrive()``.
    final class Arrival: Sendable {
        private let gathering: LinkGathering
        private let pending = Atomic<Bool>(true)

        fileprivate init(_ gathering: LinkGathering) {
            self.gathering = gathering
        }

        /// The delivery has linked (or will not): when none is left on its way, those waiting
        /// go on. Only the first call counts.
        func arrive() {
            if pending.exchange(false, ordering: .acquiringAndReleasing) { gathering.leave() }
        }

        deinit {
            // A delivery dropped on a path that never arrived (its task cancelled before the
            // pool ran its last step) must not hold the others up.
            arrive()
        }
    }

    /// Whether no delivery but the caller's own (which has not arrived) is on its way: its
    /// ``waitForOthers()`` will then not wait, unless another begins meanwhile.
    var isAlone: Bool {
        state.withLock { $0.approaching <= 1 }
    }

    /// How many deliveries wait in ``waitForOthers()`` now.
    var waitingCount: Int {
        state.withLock { $0.waiting.count }
    }

    /// A delivery has linked (or will not): when none is left on its way, those waiting go on.
    private func leave() {
        let waking: [DispatchSemaphore] = state.withLock { state in
            state.approaching -= 1
            guard state.approaching == 0 else { return [] }
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        if !waking.isEmpty { onRelease(waking.count) }
        for semaphore in waking { semaphore.signal() }
    }

    /// Waits until no delivery is on its way to its links, or for ``window`` at most (on the
    /// monotonic clock); returns at once when none is. Returns whether a release let it go
    /// (and so counted it in what it told ``onRelease``).
    @discardableResult
    func waitForOthers() -> Bool {
        guard window > 0 else { return false }
        let semaphore = DispatchSemaphore(value: 0)
        let registered = state.withLock { state in
            guard state.approaching > 0 else { return false }
            state.waiting.append(semaphore)
            return true
        }
        guard registered else { return false }
        guard semaphore.wait(timeout: .now() + window) == .timedOut else { return true }
        // Not woken in time: no longer waiting (unless a release took it meanwhile, whose
        // signal then stays in a semaphore nobody uses again).
        return state.withLock { state in
            guard let index = state.waiting.firstIndex(where: { $0 === semaphore }) else { return true }
            state.waiting.remove(at: index)
            return false
        }
    }
}
