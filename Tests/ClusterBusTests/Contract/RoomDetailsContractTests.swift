import ChatDomain
import ClusterBus
import Testing

/// What every `ClusterBus` promises for ChangeRoomDetails (PROTOCOL.md section 5), run
/// against `InProcessBus` and `RedisClusterBus`: only the room's creator (while the room is
/// updatable) and moderators change it; the zone hears of each change with the room's new
/// entry (a room becoming hidden as deleted, one becoming visible as created); capacity and
/// password changes apply to later joins only.
@Suite struct RoomDetailsContractTests {
    static let fun = RoomRef(zone: "Chat", name: "Fun")

    static func change(_ f: ContractBus, _ session: SessionID, _ change: RoomDetailChange,
                       moderator: Bool = false) async throws -> RoomDetailsOutcome {
        try await f.bus.changeRoomDetails(RoomDetailsRequest(session: session, change: change, moderator: moderator))
    }

    /// Waits until the sink recorded exactly `expected` zone changes (other events are
    /// ignored), then clears it.
    static func expectZoneChanges(_ f: ContractBus, _ expected: [ZoneChange],
                                  sourceLocation: SourceLocation = #_sourceLocation) async {
        func zoneChanges() -> [ZoneChange] {
            f.sink.events.compactMap { if case .zone(let change) = $0 { return change } else { return nil } }
        }
        _ = await f.sink.waitFor(.seconds(5)) { _ in zoneChanges().count >= expected.count }
        if f.kind == .redis { try? await Task.sleep(for: .milliseconds(150)) }
        #expect(zoneChanges() == expected, "\(f.kind) zone changes", sourceLocation: sourceLocation)
        f.sink.clear()
    }

    static func summary(_ options: RoomOptions, users: Int) -> RoomSummary {
        RoomSummary(name: fun.name, users: users, options: options)
    }

    @Test(arguments: BusKind.allCases)
    func theCreatorAndModeratorsChangeTheRoomOthersAreNotAllowed(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            let bob = try await f.loggedIn("bob")
            let mod = try await f.loggedIn("mod")
            var options = RoomOptions(description: "old")
            try await f.joined(alice, Self.fun, create: options)
            try await f.joined(bob, Self.fun)
            await f.settle()

            #expect(try await Self.change(f, bob, .description("bob's")) == .failed(.notAllowed))
            #expect(try await Self.change(f, mod, .description("mod's"), moderator: true) == .failed(.notInRoom),
                    "a moderator changes the room it is in")
            await f.expectNoEvents(including: { $0.hasPrefix("zone") })

            options.description = "new <b>text</b>"
            #expect(try await Self.change(f, alice, .description("new <b>text</b>")) == .changed(Self.summary(options, users: 2)))
            await Self.expectZoneChanges(f, [ZoneChange(kind: .changed, zone: "Chat", zoneUsers: 3, room: Self.summary(options, users: 2))])

            try await f.joined(mod, Self.fun)
            await f.settle()
            options.capacity = 5
            #expect(try await Self.change(f, mod, .capacity(5), moderator: true) == .changed(Self.summary(options, users: 3)))
            await Self.expectZoneChanges(f, [ZoneChange(kind: .changed, zone: "Chat", zoneUsers: 3, room: Self.summary(options, users: 3))])
            #expect(try await f.bus.zoneListing("Chat").rooms == [Self.summary(options, users: 3)])

            // The creator is the session that created the room, not whoever is in it later.
            #expect(try await f.bus.leave(session: alice))
            try await f.joined(alice, Self.fun)
            #expect(try await Self.change(f, alice, .capacity(nil)) != .failed(.notAllowed), "the creator, back in its room")
            #expect(try await f.bus.leave(session: alice))
            #expect(try await Self.change(f, alice, .capacity(nil)) == .failed(.notInRoom))
            await f.settle()
        }
    }

    @Test(arguments: BusKind.allCases)
    func aRoomBecomingHiddenIsDeletedFromTheListAndOneBecomingVisibleCreated(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            var options = RoomOptions(description: "D")
            try await f.joined(alice, Self.fun, create: options)
            await f.settle()

            options.hidden = true
            #expect(try await Self.change(f, alice, .hidden(true)) == .changed(Self.summary(options, users: 1)))
            await Self.expectZoneChanges(f, [ZoneChange(kind: .deleted, zone: "Chat", zoneUsers: 1, room: Self.summary(options, users: 1))])
            #expect(try await f.bus.zoneListing("Chat").rooms == [])

            options.description = "quiet"
            #expect(try await Self.change(f, alice, .description("quiet")) == .changed(Self.summary(options, users: 1)))
            await Self.expectZoneChanges(f, [])

            options.hidden = false
            #expect(try await Self.change(f, alice, .hidden(false)) == .changed(Self.summary(options, users: 1)))
            await Self.expectZoneChanges(f, [ZoneChange(kind: .created, zone: "Chat", zoneUsers: 1, room: Self.summary(options, users: 1))])
            #expect(try await f.bus.zoneListing("Chat").rooms == [Self.summary(options, users: 1)])
        }
    }

    @Test(arguments: BusKind.allCases)
    func aCapacityBelowTheMemberCountKeepsTheMembersAndRefusesJoinsUntilThereIsRoom(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            let bob = try await f.loggedIn("bob")
            let carol = try await f.loggedIn("carol")
            let dave = try await f.loggedIn("dave")
            try await f.joined(alice, Self.fun, create: RoomOptions())
            try await f.joined(bob, Self.fun)
            try await f.joined(carol, Self.fun)
            guard case .changed(let summary) = try await Self.change(f, alice, .capacity(2)) else {
                throw BusTestFailure("the capacity change was refused")
            }
            #expect(summary.users == 3 && summary.capacity == 2)
            #expect(try await f.join(dave, Self.fun) == .failed(.roomFull))
            #expect(try await f.bus.leave(session: carol))
            #expect(try await f.join(dave, Self.fun) == .failed(.roomFull), "2 of 2")
            #expect(try await f.bus.leave(session: bob))
            try await f.joined(dave, Self.fun)
            #expect(try await f.bus.zoneListing("Chat").rooms.map(\.users) == [2])
            #expect(try await Self.change(f, alice, .capacity(nil)) != .failed(.notAllowed))
            try await f.joined(bob, Self.fun)
            await f.settle()
        }
    }

    @Test(arguments: BusKind.allCases)
    func aNewPasswordAppliesToLaterJoinsOnly(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            let bob = try await f.loggedIn("bob")
            let carol = try await f.loggedIn("carol")
            try await f.joined(alice, Self.fun, create: RoomOptions())
            try await f.joined(bob, Self.fun)
            guard case .changed(let summary) = try await Self.change(f, alice, .password("s3cret")) else {
                throw BusTestFailure("the password change was refused")
            }
            #expect(summary.passwordProtected && summary.users == 2, "bob stays")
            #expect(try await f.join(carol, Self.fun) == .failed(.incorrectPassword))
            #expect(try await f.join(carol, Self.fun, password: "wrong") == .failed(.incorrectPassword))
            try await f.joined(carol, Self.fun, password: "s3cret")
            #expect(try await f.bus.leave(session: carol))
            guard case .changed(let open) = try await Self.change(f, alice, .password(nil)) else {
                throw BusTestFailure("the password removal was refused")
            }
            #expect(!open.passwordProtected)
            try await f.joined(carol, Self.fun)
            #expect(try await f.bus.zoneListing("Chat").rooms.map(\.passwordProtected) == [false])
            await f.settle()
        }
    }

    @Test(arguments: BusKind.allCases)
    func aRoomThatIsNotUpdatableIsChangedByModeratorsOnly(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            let mod = try await f.loggedIn("mod")
            try await f.joined(alice, Self.fun, create: RoomOptions(updatable: false))
            #expect(try await Self.change(f, alice, .description("x")) == .failed(.notAllowed))
            #expect(try await Self.change(f, alice, .updatable(true)) == .failed(.notAllowed))
            try await f.joined(mod, Self.fun)
            guard case .changed(let summary) = try await Self.change(f, mod, .updatable(true), moderator: true) else {
                throw BusTestFailure("the moderator's change was refused")
            }
            #expect(summary.updatable)
            #expect(try await Self.change(f, alice, .description("x")) != .failed(.notAllowed))
            #expect(try await Self.change(f, alice, .updatable(false)) != .failed(.notAllowed))
            #expect(try await Self.change(f, alice, .updatable(true)) == .failed(.notAllowed), "no way back for the creator")
            #expect(try await f.bus.zoneListing("Chat").rooms.map(\.updatable) == [false])
            await f.settle()
        }
    }

    @Test(arguments: BusKind.allCases)
    func permanentRoomsHaveNoCreatorButModeratorsChangeThem(kind: BusKind) async throws {
        let lobby = RoomRef(zone: "Chat", name: "Lobby")
        var rules = ClusterRules()
        rules.permanentRooms = [lobby: RoomOptions(description: "Welcome")]
        try await ContractBus.with(kind, rules: rules) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            let mod = try await f.loggedIn("mod")
            try await f.joined(alice, lobby)
            try await f.joined(mod, lobby)
            #expect(try await Self.change(f, alice, .description("mine")) == .failed(.notAllowed))
            guard case .changed(let summary) = try await Self.change(f, mod, .description("Rules"), moderator: true) else {
                throw BusTestFailure("the moderator's change was refused")
            }
            #expect(summary.description == "Rules")
            #expect(try await f.bus.leave(session: alice))
            #expect(try await f.bus.leave(session: mod))
            #expect(try await f.bus.zoneListing("Chat").rooms.map(\.description) == ["Rules"], "a permanent room keeps its change")
            await f.settle()
        }
    }
}
