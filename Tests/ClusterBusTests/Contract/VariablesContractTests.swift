import ChatDomain
import ClusterBus
import NIOCore
import Testing

/// What every `ClusterBus` promises for room and user variables (PROTOCOL.md section 5), run
/// against `InProcessBus` and `RedisClusterBus`: room variables change atomically with their
/// lock, existence and count checks, reach the members as room events in the room's one order
/// (with public messages), are listed by later joins in creation order, and a non-persistent
/// one goes when its creator leaves; user variables are stored with the user and told to its
/// room in the same order.
@Suite struct VariablesContractTests {
    static let arena = RoomRef(zone: "Chat", name: "Arena")

    static func request(_ session: SessionID, _ name: String, _ action: RoomVariableRequest.Action, moderator: Bool = false,
                        max: Int = 32, room: RoomRef = arena) -> RoomVariableRequest {
        RoomVariableRequest(session: session, room: room, name: name, action: action, moderator: moderator, maxVariables: max)
    }

    static func create(_ data: String, persistent: Bool = false, locked: Bool = false) -> RoomVariableRequest.Action {
        .create(data: data, persistent: persistent, locked: locked)
    }

    @Test(arguments: BusKind.allCases)
    func roomVariablesAreCheckedAppliedAndToldInTheRoomsOrder(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            let bob = try await f.loggedIn("bob")
            try await f.joined(alice, Self.arena, create: RoomOptions())
            try await f.joined(bob, Self.arena)
            await f.settle()

            #expect(try await f.bus.roomVariable(Self.request(alice, "topic", Self.create("cats", persistent: true, locked: true))) == .done)
            try await f.bus.publishAcknowledged(to: Self.arena, from: bob, message: ByteBuffer(string: "hello"))
            #expect(try await f.bus.roomVariable(Self.request(alice, "score", Self.create("1"))) == .done)
            // A Create of an existing name is an Update; `persistent` stays what it was.
            #expect(try await f.bus.roomVariable(Self.request(alice, "topic", Self.create("dogs", persistent: false, locked: true))) == .done)
            await f.expectEvents([
                "room Chat/Arena variable Create topic=cats PL",
                "room Chat/Arena message hello",
                "room Chat/Arena variable Create score=1 --",
                "room Chat/Arena variable Update topic=dogs PL",
            ])

            // Locked: only its creator (or a moderator) changes it.
            #expect(try await f.bus.roomVariable(Self.request(bob, "topic", .update(data: "birds", locked: false))) == .failed(.variableLocked))
            #expect(try await f.bus.roomVariable(Self.request(bob, "topic", .delete)) == .failed(.variableLocked))
            #expect(try await f.bus.roomVariable(Self.request(bob, "topic", Self.create("x"))) == .failed(.variableLocked))
            await f.expectNoEvents()
            // The creator unlocks it; then anyone may change it, but not lock it.
            #expect(try await f.bus.roomVariable(Self.request(alice, "topic", .update(data: "fish", locked: false))) == .done)
            #expect(try await f.bus.roomVariable(Self.request(bob, "topic", .update(data: "birds", locked: true))) == .done)
            #expect(try await f.bus.roomVariable(Self.request(bob, "topic", .update(data: "cows", locked: false), moderator: true)) == .done)
            #expect(try await f.bus.roomVariable(Self.request(bob, "nothing", .update(data: "x", locked: false))) == .failed(.variableDoesNotExist))
            #expect(try await f.bus.roomVariable(Self.request(bob, "nothing", .delete)) == .failed(.variableDoesNotExist))
            #expect(try await f.bus.roomVariable(Self.request(bob, "third", Self.create("3"), max: 2)) == .failed(.tooManyVariables))
            #expect(try await f.bus.roomVariable(Self.request(bob, "score", .delete)) == .done)
            await f.expectEvents([
                "room Chat/Arena variable Update topic=fish P-",
                "room Chat/Arena variable Update topic=birds P-",
                "room Chat/Arena variable Update topic=cows P-",
                "room Chat/Arena variable Delete score= --",
            ])

            // A moderator changes a locked variable and its lock.
            #expect(try await f.bus.roomVariable(Self.request(alice, "topic", .update(data: "mine", locked: true))) == .done)
            #expect(try await f.bus.roomVariable(Self.request(bob, "topic", .update(data: "mod", locked: false), moderator: true)) == .done)
            await f.expectEvents([
                "room Chat/Arena variable Update topic=mine PL",
                "room Chat/Arena variable Update topic=mod P-",
            ])
        }
    }

    @Test(arguments: BusKind.allCases)
    func aSessionOutsideTheRoomIsNotInARoom(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            let bob = try await f.loggedIn("bob")
            try await f.joined(alice, Self.arena, create: RoomOptions())
            await f.settle()
            #expect(try await f.bus.roomVariable(Self.request(bob, "topic", Self.create("x"))) == .failed(.notInRoom))
            #expect(try await f.bus.roomVariable(Self.request(alice, "topic", Self.create("x"), room: RoomRef(zone: "Chat", name: "Gone")))
                    == .failed(.notInRoom))
            await f.expectNoEvents()
        }
    }

    @Test(arguments: BusKind.allCases)
    func joinsListTheVariablesInCreationOrderAndNonPersistentOnesGoWithTheirCreator(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            let bob = try await f.loggedIn("bob")
            let carol = try await f.loggedIn("carol")
            try await f.joined(alice, Self.arena, create: RoomOptions())
            try await f.joined(bob, Self.arena)
            for (name, persistent) in [("b", false), ("a", true), ("c", false)] {
                #expect(try await f.bus.roomVariable(Self.request(alice, name, Self.create(name, persistent: persistent, locked: name == "c"))) == .done)
            }
            #expect(try await f.bus.roomVariable(Self.request(bob, "d", Self.create("d"))) == .done)
            #expect(try await f.bus.roomVariable(Self.request(bob, "b", .update(data: "b2", locked: false))) == .done, "bob changes alice's")
            let joined = try await f.joined(carol, Self.arena)
            #expect(joined.variables.map(\.name) == ["b", "a", "c", "d"])
            #expect(joined.variables.map(\.data) == ["b2", "a", "c", "d"])
            #expect(joined.variables.map(\.persistent) == [false, true, false, false])
            #expect(joined.variables.map(\.locked) == [false, false, true, false])
            #expect(joined.variables.map(\.creator) == [alice, alice, alice, bob], "an update does not make bob the creator")
            await f.settle()

            // Alice leaves: her non-persistent variables go, before her leave, in creation order.
            #expect(try await f.bus.leave(session: alice))
            await f.expectEvents([
                "room Chat/Arena variable Delete b= --",
                "room Chat/Arena variable Delete c= -L",
                "room Chat/Arena left alice",
            ], including: { $0.hasPrefix("room") })
            // Bob's session ends: his go too.
            await f.bus.logout(session: bob)
            await f.expectEvents(["room Chat/Arena variable Delete d= --", "room Chat/Arena left bob"],
                                 including: { $0.hasPrefix("room") })
            let again = try await f.joined(try await f.loggedIn("dave"), Self.arena)
            #expect(again.variables.map(\.name) == ["a"], "the persistent one lives as long as the room")
        }
    }

    @Test(arguments: BusKind.allCases)
    func aCreatedRoomStartsWithItsInitialVariablesOfItsCreator(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            let bob = try await f.loggedIn("bob")
            let initial = [RoomVariableChange(kind: .create, name: "topic", data: "t", persistent: true, locked: true),
                           RoomVariableChange(kind: .create, name: "temp", data: "x", persistent: false, locked: false)]
            let created = try await f.bus.join(JoinRequest(session: alice, room: Self.arena, password: nil, create: RoomOptions(),
                                                           variables: initial))
            #expect(created.joinedRoom?.variables.map(\.name) == ["topic", "temp"])
            let joined = try await f.joined(bob, Self.arena)
            #expect(joined.variables == [RoomVariable(name: "topic", data: "t", persistent: true, locked: true, creator: alice),
                                         RoomVariable(name: "temp", data: "x", persistent: false, locked: false, creator: alice)])
            await f.settle()
            #expect(try await f.bus.roomVariable(Self.request(bob, "topic", .delete)) == .failed(.variableLocked))
            #expect(try await f.bus.leave(session: alice))
            await f.expectEvents(["room Chat/Arena variable Delete temp= --", "room Chat/Arena left alice"],
                                 including: { $0.hasPrefix("room") })
            // Joining an existing room creates nothing.
            _ = try await f.bus.join(JoinRequest(session: alice, room: Self.arena, password: nil, create: nil, variables: initial))
            #expect(try await f.joined(try await f.loggedIn("carol"), Self.arena).variables.map(\.name) == ["topic"])
        }
    }

    @Test(arguments: BusKind.allCases)
    func aRoomDeletedTakesItsVariables(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            try await f.joined(alice, Self.arena, create: RoomOptions())
            #expect(try await f.bus.roomVariable(Self.request(alice, "topic", Self.create("old", persistent: true))) == .done)
            #expect(try await f.bus.leave(session: alice))
            let created = try await f.joined(alice, Self.arena, create: RoomOptions())
            #expect(created.created && created.variables.isEmpty)
        }
    }

    @Test(arguments: BusKind.allCases)
    func userVariablesAreStoredAndToldToTheUsersRoomInItsOrder(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            let bob = try await f.loggedIn("bob")
            // In no room: stored, nobody told.
            var profile = UserProfile(name: "alice", variables: [Variable(name: "mood", data: "calm")])
            #expect(try await !f.bus.setProfile(session: alice, profile: profile, push: ByteBuffer(string: "push1")))
            await f.expectNoEvents()
            try await f.joined(alice, Self.arena, create: RoomOptions())
            let joined = try await f.joined(bob, Self.arena)
            #expect(joined.members.map(\.variables) == [profile.variables, []], "later user lists show it")
            await f.settle()

            try await f.bus.publishAcknowledged(to: Self.arena, from: bob, message: ByteBuffer(string: "before"))
            profile.variables[0].data = "glad"
            #expect(try await f.bus.setProfile(session: alice, profile: profile, push: ByteBuffer(string: "push2")))
            try await f.bus.publishAcknowledged(to: Self.arena, from: bob, message: ByteBuffer(string: "after"))
            await f.expectEvents(["room Chat/Arena message before", "room Chat/Arena message push2", "room Chat/Arena message after"])

            let carol = try await f.loggedIn("carol")
            let seen = try await f.joined(carol, Self.arena)
            #expect(seen.members.first?.variables == [Variable(name: "mood", data: "glad")])
            // The profile leaves with its last variables.
            #expect(try await f.bus.leave(session: alice))
            await f.expectEvents(["room Chat/Arena left alice"], including: { $0.hasPrefix("room") && $0.contains("left") })
        }
    }
}
