import ChatDomain
import ClusterBus
import Synchronization
import Testing

/// PROTOCOL.md section 7, in process: a name with 10 wrong account passwords in 10 minutes
/// gets `Too many attempts` for 5 minutes; the table stays bounded whatever clients try.
@Suite struct PasswordLockoutTests {
    /// A clock the test moves by hand.
    final class ManualClock: Sendable {
        private let current = Mutex(ContinuousClock.now)
        var now: ContinuousClock.Instant { current.withLock { $0 } }
        func advance(_ duration: Duration) { current.withLock { $0 += duration } }
    }

    static func bus(_ clock: ManualClock, _ lockout: PasswordLockout = PasswordLockout()) -> InProcessBus {
        InProcessBus(nodeID: NodeID("test.00000001"), rules: ClusterRules(passwordLockout: lockout), now: { clock.now })
    }

    @Test func theDefaultsAreTheProtocols() {
        let policy = ClusterRules().passwordLockout
        #expect(policy == PasswordLockout(failures: 10, window: .seconds(600), lock: .seconds(300)))
        #expect(Reason.tooManyAttempts.rawValue == "Too many attempts")
    }

    @Test func tenWrongPasswordsLockTheNameForFiveMinutes() async throws {
        let clock = ManualClock()
        let bus = Self.bus(clock)
        for attempt in 1...9 {
            #expect(try await !bus.recordWrongPassword(nameKey: "alice"), "attempt \(attempt)")
            clock.advance(.seconds(60))
        }
        #expect(try await !bus.isLockedOut(nameKey: "alice"))
        #expect(try await bus.recordWrongPassword(nameKey: "alice"), "the 10th within 10 minutes locks")
        #expect(try await bus.isLockedOut(nameKey: "alice"))
        #expect(try await !bus.isLockedOut(nameKey: "bob"), "other names are not concerned")
        #expect(try await !bus.isLockedOut(nameKey: "alice "))
        // Attempts while locked neither count nor extend the lock.
        clock.advance(.seconds(299))
        #expect(try await bus.recordWrongPassword(nameKey: "alice"))
        #expect(try await bus.isLockedOut(nameKey: "alice"))
        clock.advance(.seconds(1))
        #expect(try await !bus.isLockedOut(nameKey: "alice"), "unlocked 5 minutes after the lock")
        // A fresh count: 9 more are not enough.
        for _ in 1...9 { #expect(try await !bus.recordWrongPassword(nameKey: "alice")) }
        #expect(try await !bus.isLockedOut(nameKey: "alice"))
    }

    @Test func wrongPasswordsOutsideTheWindowDoNotAddUp() async throws {
        let clock = ManualClock()
        let bus = Self.bus(clock)
        for _ in 1...9 { #expect(try await !bus.recordWrongPassword(nameKey: "alice")) }
        clock.advance(.seconds(600))
        #expect(try await !bus.recordWrongPassword(nameKey: "alice"), "the first 9 expired with their window")
        for _ in 1...8 { #expect(try await !bus.recordWrongPassword(nameKey: "alice")) }
        #expect(try await bus.recordWrongPassword(nameKey: "alice"))
    }

    @Test func aShortPolicyAndATurnedOffOne() async throws {
        let clock = ManualClock()
        let short = Self.bus(clock, PasswordLockout(failures: 2, window: .milliseconds(10), lock: .milliseconds(20)))
        #expect(try await !short.recordWrongPassword(nameKey: "x"))
        #expect(try await short.recordWrongPassword(nameKey: "x"))
        clock.advance(.milliseconds(20))
        #expect(try await !short.isLockedOut(nameKey: "x"))
        let off = Self.bus(clock, PasswordLockout(failures: 0))
        for _ in 1...50 { #expect(try await !off.recordWrongPassword(nameKey: "x")) }
        #expect(try await !off.isLockedOut(nameKey: "x"))
    }

    @Test func theTableIsBoundedAndForgetsWhatExpired() {
        let clock = ManualClock()
        var table = PasswordLockoutTable(policy: PasswordLockout(failures: 2, window: .seconds(600), lock: .seconds(300)), capacity: 100)
        // 200 000 names tried once each: at most `capacity` counts are kept.
        for index in 0..<200_000 {
            _ = table.recordWrongPassword("name\(index)", at: clock.now)
        }
        #expect(table.trackedCount <= 100)
        // The newest are the ones kept: a second attempt of the last name locks it.
        let locked1 = table.recordWrongPassword("name199999", at: clock.now)
        #expect(locked1)
        let locked2 = table.isLockedOut("name199999", at: clock.now)
        #expect(locked2)
        // Names locked by the thousand: at most `capacity` locks (and counts).
        for index in 0..<1_000 {
            _ = table.recordWrongPassword("lock\(index)", at: clock.now)
            _ = table.recordWrongPassword("lock\(index)", at: clock.now)
        }
        #expect(table.trackedCount <= 200)
        let locked3 = table.isLockedOut("lock999", at: clock.now)
        #expect(locked3)
        // Everything expires: the table is empty again.
        clock.advance(.seconds(600))
        let locked4 = table.isLockedOut("lock999", at: clock.now)
        #expect(!locked4)
        #expect(table.trackedCount == 0)
    }

    @Test func locksAndCountsExpireOnTheirOwnClock() {
        let clock = ManualClock()
        var table = PasswordLockoutTable(policy: PasswordLockout(failures: 3, window: .seconds(10), lock: .seconds(5)))
        _ = table.recordWrongPassword("a", at: clock.now)
        clock.advance(.seconds(4))
        _ = table.recordWrongPassword("b", at: clock.now)
        _ = table.recordWrongPassword("b", at: clock.now)
        let locked5 = table.recordWrongPassword("b", at: clock.now)
        #expect(locked5)
        #expect(table.trackedCount == 2, "a's count and b's lock")
        clock.advance(.seconds(5))
        let locked6 = table.isLockedOut("b", at: clock.now)
        #expect(!locked6)
        #expect(table.trackedCount == 1, "b's lock expired; a's count lives until 10 s")
        clock.advance(.seconds(1))
        let locked7 = table.isLockedOut("a", at: clock.now)
        #expect(!locked7)
        #expect(table.trackedCount == 0)
    }
}
