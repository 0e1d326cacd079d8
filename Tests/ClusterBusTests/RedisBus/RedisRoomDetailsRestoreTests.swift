import ChatDomain
import ChorusTesting
import ClusterBus
import Testing

/// Changed room details and an empty Redis restart (docs/cluster.md, "Room details"): the
/// restored room keeps its creator, so the creator may go on changing it and others may not;
/// the password the creator's node set holds for joins after the restart.
@Suite("RedisClusterBus: room details after an empty restart", .serialized)
struct RedisRoomDetailsRestoreTests {
    static let arena = BusTest.room("Arena")

    @Test func theCreatorOfARestoredRoomMayStillChangeItAndOthersMayNot() async throws {
        try await BusCluster.with(buses: 2) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let alice = try await a.loggedIn("alice")
            let bob = try await b.loggedIn("bob")
            try await a.joined(alice, Self.arena, create: RoomOptions(description: "old"))
            try await b.joined(bob, Self.arena)
            let change = RoomDetailsRequest(session: alice, change: .password("pw"), moderator: false)
            guard case .changed = try await a.bus.changeRoomDetails(change) else { throw BusTestFailure("the change was refused") }

            try await cluster.redis.restart()
            let back = await eventually {
                let names = try? await cluster.names().count
                let members = try? await cluster.members(of: Self.arena).count
                return names == 2 && members == 2
            }
            #expect(back, "alice and bob were not restored in Arena")
            // Every restore is sent before the first reply is awaited, but both nodes restore:
            // wait until the creator's own restore ran (it marks the creator).
            let allowed = await eventually {
                let outcome = try? await a.bus.changeRoomDetails(RoomDetailsRequest(session: alice, change: .description("again"),
                                                                                    moderator: false))
                return outcome.map { if case .changed = $0 { true } else { false } } ?? false
            }
            #expect(allowed, "the creator could not change its restored room")
            #expect(try await b.bus.changeRoomDetails(RoomDetailsRequest(session: bob, change: .description("bob's"), moderator: false))
                    == .failed(.notAllowed))
            let carol = try await a.loggedIn("carol")
            // Alice's node restores with the password it set; bob's knows none, and whichever
            // node restored first made the room: the one rule that holds is that a change
            // after the restore is kept.
            guard case .changed = try await a.bus.changeRoomDetails(RoomDetailsRequest(session: alice, change: .password("pw2"),
                                                                                      moderator: false)) else {
                throw BusTestFailure("the password change after the restart was refused")
            }
            #expect(try await a.join(carol, Self.arena, password: "pw") == .failed(.incorrectPassword))
            try await a.joined(carol, Self.arena, password: "pw2")
        }
    }
}
