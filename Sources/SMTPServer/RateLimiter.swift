import Synchronization

/// What a ``RateLimiter`` decides for one connection attempt.
public enum RateLimitDecision: Hashable, Sendable {
    /// Go ahead.
    case allowed
    /// Refuse; the client may try again after this long.
    case limited(retryAfter: Duration)
}

/// Limits how often a client may connect (go-smtp's `RateLimiter`). The server asks once
/// per connection, before the greeting, with the client's IP address as the key (`local` for
/// Unix sockets); a refusal is answered `421 4.7.28` and the connection closed.
public protocol RateLimiter: Sendable {
    /// Counts one attempt for `key` and says whether it is allowed.
    func acquire(key: String) -> RateLimitDecision
}

/// A rate limiter using the generic cell rate algorithm (GCRA): `rate` attempts per `period`
/// on average, with bursts of up to `burst` attempts. Equivalent to a token bucket of `burst`
/// tokens refilled at `rate`/`period`, but it keeps only one instant per key.
public final class GCRARateLimiter: RateLimiter {
    private let interval: Duration
    private let tolerance: Duration
    private let maximumKeys: Int
    private let clock: @Sendable () -> ContinuousClock.Instant
    private let theoreticalArrival = Mutex<[String: ContinuousClock.Instant]>([:])

    /// Creates a limiter allowing `rate` attempts per `period` with bursts of `burst`.
    /// At most `maximumKeys` clients are tracked; idle ones are forgotten first.
    public init(rate: Int, per period: Duration, burst: Int, maximumKeys: Int = 100_000,
                clock: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        precondition(rate > 0 && burst > 0, "rate and burst must be positive")
        self.interval = period / rate
        self.tolerance = (period / rate) * (burst - 1)
        self.maximumKeys = maximumKeys
        self.clock = clock
    }

    /// Counts one attempt for `key`.
    public func acquire(key: String) -> RateLimitDecision {
        let now = clock()
        return theoreticalArrival.withLock { table in
            let arrival = max(table[key] ?? now, now)
            let earliest = arrival - tolerance
            if now < earliest { return .limited(retryAfter: earliest - now) }
            if table.count >= maximumKeys, table[key] == nil {
                // Forget clients whose bucket is full again; they are as if never seen.
                table = table.filter { $0.value > now }
                if table.count >= maximumKeys { return .limited(retryAfter: interval) }
            }
            table[key] = arrival + interval
            return .allowed
        }
    }
}
