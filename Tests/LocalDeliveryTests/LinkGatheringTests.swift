import Foundation
@testable import LocalDelivery
import Synchronization
import Testing

@Suite("Link gathering: a delivery about to sync new/ waits for those about to link")
struct LinkGatheringTests {
    /// Runs `body` on a thread of its own (never blocking the concurrency pool) and returns how
    /// long it took there.
    static func timed(_ body: @escaping @Sendable () -> Void) async -> TimeInterval {
        await withCheckedContinuation { continuation in
            Thread {
                let started = Date()
                body()
                continuation.resume(returning: Date().timeIntervalSince(started))
            }.start()
        }
    }

    /// How long `gathering.waitForOthers()` waits while `arrival` arrives `delay` seconds after
    /// the wait begins: the arrival's thread waits until the waiter is waiting, so that however
    /// late either thread runs, the arrival cannot come first.
    static func wait(_ gathering: LinkGathering, while arrival: LinkGathering.Arrival, arrivesAfter delay: TimeInterval) async -> TimeInterval {
        await Self.timed {
            Thread {
                Self.untilWaiting(gathering, count: 1)
                Thread.sleep(forTimeInterval: delay)
                arrival.arrive()
            }.start()
            gathering.waitForOthers()
        }
    }

    /// Blocks until `count` deliveries wait in `gathering` (60 s at most).
    static func untilWaiting(_ gathering: LinkGathering, count: Int) {
        for _ in 0..<6_000 where gathering.waitingCount < count { Thread.sleep(forTimeInterval: 0.01) }
    }

    /// Where a wait must end because of an event, the window is 30 s and the bound 20 s: a wait
    /// that ran out its window is told apart from one an arrival ended, with room for a loaded
    /// machine to run a thread seconds late. Where it must end with its window, the window is
    /// short and only its lower bound is exact.
    static let eventWindow: Double = 30
    static let eventBound: Double = 20

    @Test("none on the way: no wait; one on the way: until it links; one that never links: the window at most")
    func waits() async {
        let gathering = LinkGathering(window: Self.eventWindow)
        // Alone (its own arrival already counted): no wait at all.
        gathering.approach().arrive()
        #expect(await Self.timed { gathering.waitForOthers() } < Self.eventBound)

        // Another delivery on its way links 0.3 s later: the wait ends then.
        let waited = await Self.wait(gathering, while: gathering.approach(), arrivesAfter: 0.3)
        #expect(waited >= 0.25 && waited < Self.eventBound, "waited \(waited) s")

        // One that never links holds the wait for the window, not longer.
        let short = LinkGathering(window: 1)
        let stuck = short.approach()
        let held = await Self.timed { short.waitForOthers() }
        #expect(held >= 0.95 && held < Self.eventWindow, "held \(held) s")
        stuck.arrive()

        // Several waiting at once are all let go by the last arrival.
        let one = gathering.approach()
        let two = gathering.approach()
        async let first = Self.timed { gathering.waitForOthers() }
        async let second = Self.timed { gathering.waitForOthers() }
        Thread {
            Self.untilWaiting(gathering, count: 2)
            one.arrive()
            two.arrive()
        }.start()
        let both = await [first, second]
        #expect(both.allSatisfy { $0 < Self.eventBound }, "\(both)")
    }

    @Test("an arrival counts once, however often it is given; one dropped without arriving arrives")
    func arrivals() async {
        let gathering = LinkGathering(window: Self.eventWindow)
        let first = gathering.approach()
        let second = gathering.approach()
        // The first arrives three times (its last step and the session's own exit both say
        // so): the second is still on its way, so a wait is held until it arrives.
        first.arrive()
        first.arrive()
        first.arrive()
        let waited = await Self.wait(gathering, while: second, arrivesAfter: 0.3)
        #expect(waited >= 0.25 && waited < Self.eventBound, "waited \(waited) s")

        // A delivery whose arrival is dropped (its task ended before its last step ran)
        // no longer holds anyone up.
        do { _ = gathering.approach() }
        #expect(await Self.timed { gathering.waitForOthers() } < 1)
    }

    @Test("a release tells how many waiting deliveries it lets go, and those know it; one that timed out or never waited does not count")
    func releases() async {
        let told = Mutex(0)
        let gathering = LinkGathering(window: Self.eventWindow, onRelease: { count in told.withLock { $0 += count } })
        // Alone: no wait, not released.
        gathering.approach().arrive()
        #expect(gathering.isAlone)
        #expect(!gathering.waitForOthers())
        // Two wait for two more; the last arrival lets both go and says so first. (A
        // delivery on its way asks isAlone before it arrives: itself alone on its way is alone.)
        let third = gathering.approach()
        #expect(gathering.isAlone)
        let fourth = gathering.approach()
        #expect(!gathering.isAlone)
        let results = Mutex<[Bool]>([])
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = Mutex(0)
            for _ in 0..<2 {
                Thread {
                    let released = gathering.waitForOthers()
                    results.withLock { $0.append(released) }
                    if done.withLock({ $0 += 1; return $0 }) == 2 { continuation.resume() }
                }.start()
            }
            Thread {
                Self.untilWaiting(gathering, count: 2)
                third.arrive()
                fourth.arrive()
            }.start()
        }
        #expect(results.withLock { $0 } == [true, true])
        #expect(told.withLock { $0 } == 2)
        // One whose window ends first is not released and not counted.
        let short = LinkGathering(window: 0.05, onRelease: { count in told.withLock { $0 += count } })
        let stuck = short.approach()
        #expect(!short.waitForOthers())
        stuck.arrive()
        #expect(told.withLock { $0 } == 2)
    }

    @Test("a window of 0 never waits")
    func off() async {
        let gathering = LinkGathering(window: 0)
        let arrival = gathering.approach()
        #expect(await Self.timed { gathering.waitForOthers() } < 1)
        arrival.arrive()
    }
}
