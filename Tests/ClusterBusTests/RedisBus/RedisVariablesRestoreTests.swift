import ChatDomain
import ChorusTesting
import ClusterBus
import Testing

/// Room variables and an empty Redis restart (docs/cluster.md, "Room and user variables"):
/// the nodes put each room back with its variables as their members were last told them,
/// in creation order, with their creators, flags and data, so locks and the non-persistent
/// rule go on holding; user variables come back with the sessions' profiles.
@Suite("RedisClusterBus: variables after an empty restart", .serialized)
struct RedisVariablesRestoreTests {
    static let arena = BusTest.room("Arena")

    static func create(_ session: SessionID, _ name: String, _ data: String, persistent: Bool, locked: Bool) -> RoomVariableRequest {
        RoomVariableRequest(session: session, room: arena, name: name, action: .create(data: data, persistent: persistent, locked: locked),
                            moderator: false, maxVariables: 32)
    }

    @Test func anEmptyRestartPutsTheRoomsVariablesBack() async throws {
        try await BusCluster.with(buses: 2) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let alice = try await a.loggedIn("alice")
            let bob = try await b.loggedIn("bob")
            try await a.joined(alice, Self.arena, create: RoomOptions())
            try await b.joined(bob, Self.arena)
            #expect(try await a.bus.roomVariable(Self.create(alice, "topic", "cats", persistent: true, locked: true)) == .done)
            #expect(try await b.bus.roomVariable(Self.create(bob, "temp", "t", persistent: false, locked: false)) == .done)
            #expect(try await b.bus.roomVariable(RoomVariableRequest(session: bob, room: Self.arena, name: "topic",
                                                                     action: .update(data: "dogs", locked: false),
                                                                     moderator: true, maxVariables: 32)) == .done)
            let profile = UserProfile(name: "bob", variables: [Variable(name: "mood", data: "glad")])
            #expect(try await b.bus.setProfile(session: bob, profile: profile, push: .init(string: "push")))
            for bus in [a, b] {
                let seen = await bus.sink.waitFor { $0.contains { $0.contains("variable Update topic=dogs") } && $0.contains("room Chat/Arena message push") }
                #expect(seen, "\(bus.name) did not see the changes: \(bus.sink.lines)")
            }

            try await cluster.redis.restart()
            let back = await eventually { (try? await cluster.members(of: Self.arena).count) == 2 }
            #expect(back, "alice and bob were not restored in Arena")
            let carol = try await a.loggedIn("carol")
            let joined = try await a.joined(carol, Self.arena)
            #expect(joined.variables == [RoomVariable(name: "topic", data: "dogs", persistent: true, locked: false, creator: alice),
                                         RoomVariable(name: "temp", data: "t", persistent: false, locked: false, creator: bob)])
            #expect(joined.members.first { $0.name == "bob" }?.variables == profile.variables, "user variables come back too")

            // The creator is still the creator: bob's leave takes his non-persistent variable.
            a.sink.clear()
            #expect(try await b.bus.leave(session: bob))
            let deleted = await a.sink.waitFor { $0.contains("room Chat/Arena variable Delete temp= --") }
            #expect(deleted, "\(a.sink.lines)")
            let dave = try await a.loggedIn("dave")
            #expect(try await a.joined(dave, Self.arena).variables.map(\.name) == ["topic"])
        }
    }
}
