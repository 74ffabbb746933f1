import Synchronization

/// The answers of a users lookup remembered for a short time (both kinds: a user and "no such
/// user"), at most `capacity` of them: a message to many recipients of one domain, or a
/// client's retries, do not ask the database again. Failures are never remembered.
final class UserCache: Sendable {
    private struct Entry {
        var user: LocalUser?
        var expires: ContinuousClock.Instant
    }

    /// How long an answer is used.
    let lifetime: Duration
    /// How many answers are kept at most.
    let capacity: Int
    private let entries = Mutex<[String: Entry]>([:])

    init(lifetime: Duration, capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    /// The remembered answer for `address`: `.some(nil)` when it is known that there is no such
    /// user, `nil` when nothing (or only an expired answer) is remembered.
    func answer(for address: String) -> LocalUser?? {
        entries.withLock { entries in
            guard let entry = entries[address] else { return nil }
            guard entry.expires > .now else {
                entries[address] = nil
                return nil
            }
            return .some(entry.user)
        }
    }

    /// Remembers `user` (nil: no such user) as the answer for `address`. When the cache is
    /// full, the expired answers go first, and then, if none had, every answer: a bounded
    /// cache that starts again empty costs one lookup per address, never memory.
    func remember(_ user: LocalUser?, for address: String) {
        guard lifetime > .zero, capacity > 0 else { return }
        let now = ContinuousClock.now
        entries.withLock { entries in
            if entries.count >= capacity, entries[address] == nil {
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[address] = Entry(user: user, expires: now + lifetime)
        }
    }

    /// Forgets every answer.
    func clear() {
        entries.withLock { $0.removeAll() }
    }
}
