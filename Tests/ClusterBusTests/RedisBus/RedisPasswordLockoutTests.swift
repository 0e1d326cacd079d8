import ChorusTesting
import ChatDomain
import ClusterBus
import NIOCore
import Testing

/// PROTOCOL.md section 7 on Redis: wrong account passwords of a name count cluster-wide, from
/// every bus, in keys that expire on their own (docs/cluster.md, "Password lockout"). Short
/// windows keep the tests fast.
@Suite("RedisClusterBus: password lockout")
struct RedisPasswordLockoutTests {
    static func rules(failures: Int = 3, window: Duration = .seconds(60), lock: Duration = .seconds(60)) -> ClusterRules {
        ClusterRules(passwordLockout: PasswordLockout(failures: failures, window: window, lock: lock))
    }

    @Test func wrongPasswordsFromEveryBusLockTheNameOnEveryBus() async throws {
        try await BusCluster.with(buses: 3, rules: Self.rules(lock: .milliseconds(2500))) { cluster in
            let (a, b, c) = (cluster[0], cluster[1], cluster[2])
            #expect(try await !a.bus.recordWrongPassword(nameKey: "alice"))
            #expect(try await !b.bus.recordWrongPassword(nameKey: "alice"))
            for bus in [a, b, c] { #expect(try await !bus.bus.isLockedOut(nameKey: "alice")) }
            #expect(try await c.bus.recordWrongPassword(nameKey: "alice"), "the third, from a third bus, locks")
            for bus in [a, b, c] { #expect(try await bus.bus.isLockedOut(nameKey: "alice"), "\(bus.name)") }
            #expect(try await !a.bus.isLockedOut(nameKey: "bob"))
            // The lock has its TTL; the count is gone.
            let ttl = try #require(try await cluster.raw(["PTTL", "\(cluster.prefix)pwlock:alice"]).int)
            #expect(ttl > 0 && ttl <= 2500)
            #expect(try await cluster.raw(["EXISTS", "\(cluster.prefix)pwfails:alice"]).int == 0)
            // Attempts while locked change nothing (no count, no longer lock).
            #expect(try await b.bus.recordWrongPassword(nameKey: "alice"))
            #expect(try await cluster.raw(["EXISTS", "\(cluster.prefix)pwfails:alice"]).int == 0)
            #expect(try #require(try await cluster.raw(["PTTL", "\(cluster.prefix)pwlock:alice"]).int) <= ttl)
            // The lock expires on its own; then the name has its attempts again.
            #expect(await eventually(timeout: .seconds(5)) { (try? await a.bus.isLockedOut(nameKey: "alice")) == false })
            #expect(try await !a.bus.recordWrongPassword(nameKey: "alice"))
            #expect(try await !b.bus.recordWrongPassword(nameKey: "alice"))
            #expect(try await !c.bus.isLockedOut(nameKey: "alice"))
        }
    }

    @Test func theCountExpiresWithItsWindow() async throws {
        try await BusCluster.with(buses: 2, rules: Self.rules(window: .milliseconds(400))) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            #expect(try await !a.bus.recordWrongPassword(nameKey: "alice"))
            #expect(try await !b.bus.recordWrongPassword(nameKey: "alice"))
            let ttl = try #require(try await cluster.raw(["PTTL", "\(cluster.prefix)pwfails:alice"]).int)
            #expect(ttl > 0 && ttl <= 400, "the window runs from the first wrong password")
            #expect(await eventually(timeout: .seconds(5)) {
                (try? await cluster.raw(["EXISTS", "\(cluster.prefix)pwfails:alice"]).int) == 0
            })
            #expect(try await !a.bus.recordWrongPassword(nameKey: "alice"), "a fresh count")
            #expect(try await !a.bus.isLockedOut(nameKey: "alice"))
        }
    }

    @Test func concurrentWrongPasswordsAreCountedExactly() async throws {
        try await BusCluster.with(buses: 3, rules: Self.rules(failures: 10)) { cluster in
            let buses = cluster.buses
            let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<30 {
                    let bus = buses[index % 3].bus
                    group.addTask { try await bus.recordWrongPassword(nameKey: "target") }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.filter { !$0 }.count == 9, "9 attempts counted, the 10th locked, 20 found it locked")
            #expect(try await cluster[1].bus.isLockedOut(nameKey: "target"))
        }
    }

    @Test func nameKeysShareNoCounterNorLock() async throws {
        try await BusCluster.with(buses: 2, rules: Self.rules(failures: 2)) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let keys = ["a", "a:", ":a", "pwlock:a", "pwfails:a", "", "chorus:a", "a\u{1F}", String(repeating: "pwlock:", count: 1000)]
            for key in keys { #expect(try await !a.bus.recordWrongPassword(nameKey: key), "\(key.prefix(20))") }
            #expect(try await b.bus.recordWrongPassword(nameKey: "a"))
            for key in keys { #expect(try await b.bus.isLockedOut(nameKey: key) == (key == "a"), "\(key.prefix(20))") }
            // Every key of the lockout has a TTL: nothing stays behind.
            for key in try await RedisKeyLayoutTests.scan(cluster) where key.hasPrefix("pwfails:") || key.hasPrefix("pwlock:") {
                #expect(try #require(try await cluster.raw(["PTTL", "\(cluster.prefix)\(key)"]).int) > 0, "\(key.prefix(30))")
            }
        }
    }

    @Test func theInProcessAndRedisBusesAgreeOnAShortPolicy() async throws {
        let lockout = PasswordLockout(failures: 4, window: .seconds(60), lock: .seconds(60))
        let local = InProcessBus(nodeID: NodeID("solo.00000001"), rules: ClusterRules(passwordLockout: lockout))
        try await BusCluster.with(buses: 1, rules: ClusterRules(passwordLockout: lockout)) { cluster in
            for attempt in 1...6 {
                let redis = try await cluster[0].bus.recordWrongPassword(nameKey: "n")
                let inProcess = try await local.recordWrongPassword(nameKey: "n")
                #expect(redis == inProcess, "attempt \(attempt)")
                #expect(redis == (attempt >= 4))
            }
        }
    }
}
