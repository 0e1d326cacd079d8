import ChatDomain
import ClusterBus
import NIOCore
import Testing

/// What every `ClusterBus` promises, written once and run against `InProcessBus` and
/// `RedisClusterBus` (a real redis-server per test). One node per test: what several nodes
/// see is in the Redis bus's own tests.
@Suite struct ClusterBusContractTests {
    static let arena = RoomRef(zone: "Chat", name: "Arena")
    static let lobby = RoomRef(zone: "Chat", name: "Lobby")
    static let permanentLobby = ClusterRules(permanentRooms: [lobby: RoomOptions(description: "Welcome", permanent: true)])

    // MARK: Names

    @Test("a name is unique: case, NFC and look-alikes fold to one key",
          arguments: BusKind.allCases, [
              ("Bob", "bob"), ("Bob", "BOB"), ("Z\u{E9}lie", "ZE\u{301}LIE"),
              ("alice", "\u{0430}lice"), ("alice", "\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}"),
          ])
    func nameIsUnique(kind: BusKind, pair: (String, String)) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            #expect(try await f.login(pair.0).1 != .nameInUse)
            #expect(try await f.login(pair.1).1 == .nameInUse)
            #expect(try await f.bus.loggedInCount() == 1)
            #expect(try await f.bus.isNameTaken(nameKey: ContractBus.key(pair.1)))
        }
    }

    @Test(arguments: BusKind.allCases)
    func differentNamesMayLogIn(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            for name in ["bob", "bobby", "B\u{F3}b"] { _ = try await f.loggedIn(name) }
            #expect(try await f.bus.loggedInCount() == 3)
            #expect(try await !f.bus.isNameTaken(nameKey: ContractBus.key("carol")))
        }
    }

    @Test(arguments: BusKind.allCases)
    func aNameIsFreeAgainAfterLogoutAndARepeatedLogoutKeepsTheNewOwner(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let bob = try await f.loggedIn("bob")
            #expect(try await f.bus.isNameTaken(nameKey: ContractBus.key("BOB")))
            await f.bus.logout(session: bob)
            #expect(try await !f.bus.isNameTaken(nameKey: ContractBus.key("bob")))
            _ = try await f.loggedIn("BOB")
            await f.bus.logout(session: bob)
            #expect(try await f.login("bob").1 == .nameInUse)
            #expect(try await f.bus.loggedInCount() == 1)
        }
    }

    @Test(arguments: BusKind.allCases)
    func loginAnswersTheDefaultZonesListing(kind: BusKind) async throws {
        try await ContractBus.with(kind, rules: Self.permanentLobby) { (f) async throws in
            let (_, outcome) = try await f.login("alice")
            #expect(outcome == .accepted(ZoneListing(zone: "Chat", users: 1, rooms: [
                RoomSummary(name: "Lobby", users: 0, capacity: nil, passwordProtected: false, hidden: false,
                            updatable: true, description: "Welcome"),
            ])))
        }
    }

    @Test(arguments: BusKind.allCases)
    func loggedInCountFollowsLoginsAndLogouts(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            #expect(try await f.bus.loggedInCount() == 0)
            let a = try await f.loggedIn("a")
            _ = try await f.loggedIn("b")
            let c = try await f.loggedIn("c", zone: "Other")
            try await f.joined(c, RoomRef(zone: "Other", name: "Room"), create: RoomOptions())
            #expect(try await f.bus.loggedInCount() == 3)
            await f.bus.logout(session: a)
            await f.bus.logout(session: c)
            await f.bus.logout(session: f.newSession())  // unknown: nothing
            #expect(try await f.bus.loggedInCount() == 1)
        }
    }

    @Test(arguments: BusKind.allCases)
    func roomCountCountsPermanentAndCreatedRoomsUntilTheyAreDeleted(kind: BusKind) async throws {
        try await ContractBus.with(kind, rules: Self.permanentLobby) { (f) async throws in
            #expect(f.bus.isAvailable)
            #expect(try await f.bus.roomCount() == 1)
            let a = try await f.loggedIn("a")
            try await f.joined(a, RoomRef(zone: "Chat", name: "Temp"), create: RoomOptions())
            let b = try await f.loggedIn("b", zone: "Other")
            try await f.joined(b, RoomRef(zone: "Other", name: "Elsewhere"), create: RoomOptions())
            #expect(try await f.bus.roomCount() == 3)
            await f.bus.logout(session: a)  // Temp empties and goes
            #expect(try await f.bus.roomCount() == 2)
        }
    }

    // MARK: Joins that fail

    @Test(arguments: BusKind.allCases)
    func joinFailuresGiveTheirExactReasonAndChangeNothing(kind: BusKind) async throws {
        try await ContractBus.with(kind, rules: Self.permanentLobby) { (f) async throws in
            let owner = try await f.loggedIn("owner")
            let guest = try await f.loggedIn("guest")
            #expect(try await f.join(f.newSession(), Self.lobby) == .failed(.notLoggedIn))
            #expect(try await f.join(guest, RoomRef(zone: "Chat", name: "Nowhere")) == .failed(.roomDoesNotExist))
            try await f.joined(owner, Self.arena, create: RoomOptions(password: "s3cret", capacity: 2))
            #expect(try await f.create(guest, Self.arena) == .failed(.roomExists))
            #expect(try await f.create(guest, Self.lobby) == .failed(.roomExists), "permanent rooms exist too")
            #expect(try await f.join(owner, Self.arena, password: "s3cret") == .failed(.alreadyInRoom))
            #expect(try await f.create(owner, Self.arena) == .failed(.roomExists))
            for wrong in [nil, "", "S3CRET", "s3cret "] {
                #expect(try await f.join(guest, Self.arena, password: wrong) == .failed(.incorrectPassword), "\(String(describing: wrong))")
            }
            let listing = try await f.bus.zoneListing("Chat")
            #expect(listing.rooms.map(\.name) == ["Lobby", "Arena"])
            #expect(listing.rooms.map(\.users) == [0, 1])
            #expect(listing.rooms.last?.passwordProtected == true)
            // Rooms and zones are case-sensitive: these are other rooms.
            #expect(try await f.create(guest, RoomRef(zone: "Chat", name: "arena")).joinedRoom?.created == true)
        }
    }

    @Test(arguments: BusKind.allCases)
    func aFullRoomRefusesTheNextMember(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let a = try await f.loggedIn("a")
            let b = try await f.loggedIn("b")
            let c = try await f.loggedIn("c")
            try await f.joined(a, Self.arena, create: RoomOptions(capacity: 2))
            try await f.joined(b, Self.arena)
            #expect(try await f.join(c, Self.arena) == .failed(.roomFull))
            #expect(try await f.bus.leave(session: b))
            try await f.joined(c, Self.arena)
        }
    }

    @Test(arguments: BusKind.allCases)
    func aFailedJoinLeavesTheUserWhereItWas(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let a = try await f.loggedIn("a")
            let b = try await f.loggedIn("b")
            try await f.joined(a, Self.arena, create: RoomOptions())
            try await f.joined(b, RoomRef(zone: "Chat", name: "Vault"), create: RoomOptions(password: "pw"))
            await f.settle()
            #expect(try await f.join(a, RoomRef(zone: "Chat", name: "Vault")) == .failed(.incorrectPassword))
            #expect(try await f.join(a, RoomRef(zone: "Chat", name: "Nowhere")) == .failed(.roomDoesNotExist))
            await f.expectNoEvents()
            try await f.bus.publishAcknowledged(to: Self.arena, from: a, message: ByteBuffer(string: "still here"))
            await f.expectEvents(["room Chat/Arena message still here"])
        }
    }

    @Test(arguments: BusKind.allCases)
    func tooManyRoomsInTheCluster(kind: BusKind) async throws {
        try await ContractBus.with(kind, rules: ClusterRules(permanentRooms: Self.permanentLobby.permanentRooms, maxRooms: 2)) { (f) async throws in
            let a = try await f.loggedIn("a")
            let b = try await f.loggedIn("b")
            try await f.joined(a, Self.arena, create: RoomOptions())
            #expect(try await f.create(b, RoomRef(zone: "Games", name: "Den")) == .failed(.tooManyRooms))
            try await f.joined(b, Self.lobby)  // joining an existing room is no creation
            #expect(try await f.bus.leave(session: a))  // Arena is deleted
            try await f.joined(a, RoomRef(zone: "Games", name: "Den"), create: RoomOptions())
        }
    }

    @Test(arguments: BusKind.allCases)
    func tooManyRoomsInAZoneCountsPermanentAndHiddenRooms(kind: BusKind) async throws {
        try await ContractBus.with(kind, rules: ClusterRules(permanentRooms: Self.permanentLobby.permanentRooms, maxRoomsPerZone: 3)) { (f) async throws in
            let a = try await f.loggedIn("a")
            let b = try await f.loggedIn("b")
            let c = try await f.loggedIn("c")
            try await f.joined(a, RoomRef(zone: "Chat", name: "Hidden"), create: RoomOptions(hidden: true))
            try await f.joined(b, Self.arena, create: RoomOptions())
            #expect(try await f.create(c, RoomRef(zone: "Chat", name: "Third")) == .failed(.tooManyRooms))
            // Another zone has its own limit.
            try await f.joined(c, RoomRef(zone: "Games", name: "Third"), create: RoomOptions())
            #expect(try await f.bus.zoneListing("Chat").rooms.map(\.name) == ["Lobby", "Arena"])
        }
    }

    // MARK: Events and their order

    @Test(arguments: BusKind.allCases)
    func joinsLeavesAndMessagesInOneOrder(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            let bob = try await f.loggedIn("bob")
            _ = try await f.loggedIn("carol")
            let created = try await f.joined(alice, Self.arena, create: RoomOptions(capacity: 5, description: "fight"))
            #expect(created.created)
            #expect(created.members.map(\.name) == ["alice"])
            #expect(created.summary == RoomSummary(name: "Arena", users: 1, capacity: 5, passwordProtected: false,
                                                   hidden: false, updatable: true, description: "fight"))
            #expect(created.left == nil && created.newZone == nil && created.zoneUsers == 3)
            await f.expectEvents(["zone created Chat/Arena users=1 zoneUsers=3", "room Chat/Arena joined alice"])

            let joined = try await f.joined(bob, Self.arena)
            #expect(!joined.created)
            #expect(joined.members.map(\.name) == ["alice", "bob"])
            #expect(joined.summary.users == 2)
            await f.expectEvents(["zone changed Chat/Arena users=2 zoneUsers=3", "room Chat/Arena joined bob"])

            try await f.bus.publishAcknowledged(to: Self.arena, from: alice, message: ByteBuffer(string: "one"))
            try await f.bus.publishAcknowledged(to: Self.arena, from: bob, message: ByteBuffer(string: "two"))
            #expect(try await f.bus.leave(session: bob))
            try await f.bus.publishAcknowledged(to: Self.arena, from: alice, message: ByteBuffer(string: "three"))
            #expect(try await !f.bus.leave(session: bob), "in no room any more")
            await f.expectEvents([
                "room Chat/Arena message one", "room Chat/Arena message two",
                "room Chat/Arena left bob", "zone changed Chat/Arena users=1 zoneUsers=3",
                "room Chat/Arena message three",
            ])

            #expect(try await f.bus.leave(session: alice))
            await f.expectEvents(["zone deleted Chat/Arena users=0 zoneUsers=3"],
                                 including: ContractBus.lastLocalLeave("room Chat/Arena left alice"))
            #expect(try await f.bus.zoneListing("Chat").rooms.isEmpty)
            #expect(try await f.join(bob, Self.arena) == .failed(.roomDoesNotExist))
        }
    }

    @Test(arguments: BusKind.allCases)
    func switchingRoomsLeavesFirst(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            let bob = try await f.loggedIn("bob")
            try await f.joined(alice, Self.arena, create: RoomOptions())
            try await f.joined(bob, Self.arena)
            await f.settle()
            let den = RoomRef(zone: "Chat", name: "Den")
            let moved = try await f.joined(bob, den, create: RoomOptions())
            #expect(moved.left == Self.arena)
            #expect(moved.newZone == nil)
            await f.expectEvents([
                "room Chat/Arena left bob", "zone changed Chat/Arena users=1 zoneUsers=2",
                "zone created Chat/Den users=1 zoneUsers=2", "room Chat/Den joined bob",
            ])
        }
    }

    @Test(arguments: BusKind.allCases)
    func logoutLeavesTheRoom(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            let bob = try await f.loggedIn("bob")
            try await f.joined(alice, Self.arena, create: RoomOptions())
            try await f.joined(bob, Self.arena)
            await f.settle()
            await f.bus.logout(session: bob)
            await f.expectEvents(["room Chat/Arena left bob", "zone changed Chat/Arena users=1 zoneUsers=1"])
            #expect(try await f.bus.zoneListing("Chat").users == 1)
        }
    }

    @Test(arguments: BusKind.allCases)
    func movingToAnotherZone(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            _ = try await f.loggedIn("bob")
            try await f.joined(alice, Self.arena, create: RoomOptions())
            await f.settle()
            let den = RoomRef(zone: "Games", name: "Den")
            let moved = try await f.joined(alice, den, create: RoomOptions(description: "d"))
            #expect(moved.left == Self.arena)
            #expect(moved.zoneUsers == 1)
            #expect(moved.newZone == ZoneListing(zone: "Games", users: 1, rooms: [
                RoomSummary(name: "Den", users: 1, capacity: nil, passwordProtected: false, hidden: false, updatable: true, description: "d"),
            ]))
            await f.expectEvents([
                "zone deleted Chat/Arena users=0 zoneUsers=1",
                "zone created Games/Den users=1 zoneUsers=1", "room Games/Den joined alice",
            ], including: ContractBus.lastLocalLeave("room Chat/Arena left alice"))
            #expect(try await f.bus.zoneListing("Chat").users == 1)
            #expect(try await f.bus.zoneListing("Games").users == 1)
            // Joining in the same zone has no new zone.
            #expect(try await f.joined(alice, RoomRef(zone: "Games", name: "Pit"), create: RoomOptions()).newZone == nil)
        }
    }

    @Test(arguments: BusKind.allCases)
    func membersAreListedInJoinOrderWithTheirProfiles(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            var sessions: [SessionID] = []
            for name in ["carol", "alice", "bob"] {
                let (session, outcome) = try await f.login(name, variables: [Variable(name: "level", data: "\(name.count)")])
                guard case .accepted = outcome else { throw BusTestFailure("login of \(name) refused") }
                sessions.append(session)
            }
            try await f.joined(sessions[0], Self.arena, create: RoomOptions())
            try await f.joined(sessions[1], Self.arena)
            let last = try await f.joined(sessions[2], Self.arena)
            #expect(last.members.map(\.name) == ["carol", "alice", "bob"])
            #expect(last.members.map(\.variables) == [[Variable(name: "level", data: "5")], [Variable(name: "level", data: "5")],
                                                      [Variable(name: "level", data: "3")]])
        }
    }

    // MARK: Room lists

    @Test(arguments: BusKind.allCases)
    func roomListsAreInCreationOrderWithoutHiddenRooms(kind: BusKind) async throws {
        try await ContractBus.with(kind, rules: Self.permanentLobby) { (f) async throws in
            let a = try await f.loggedIn("a")
            let b = try await f.loggedIn("b")
            let c = try await f.loggedIn("c")
            try await f.joined(a, RoomRef(zone: "Chat", name: "Zed"), create: RoomOptions(capacity: 9))
            try await f.joined(b, RoomRef(zone: "Chat", name: "Secret"), create: RoomOptions(hidden: true))
            try await f.joined(c, RoomRef(zone: "Chat", name: "Alpha"), create: RoomOptions(updatable: false))
            await f.expectNoEvents(including: { $0.contains("Secret") && $0.hasPrefix("zone") })
            let listing = try await f.bus.zoneListing("Chat")
            #expect(listing.users == 3)
            #expect(listing.rooms == [
                RoomSummary(name: "Lobby", users: 0, capacity: nil, passwordProtected: false, hidden: false, updatable: true, description: "Welcome"),
                RoomSummary(name: "Zed", users: 1, capacity: 9, passwordProtected: false, hidden: false, updatable: true, description: ""),
                RoomSummary(name: "Alpha", users: 1, capacity: nil, passwordProtected: false, hidden: false, updatable: false, description: ""),
            ])
            #expect(try await f.bus.zoneListing("Empty") == ZoneListing(zone: "Empty", users: 0, rooms: []))
        }
    }

    @Test(arguments: BusKind.allCases)
    func permanentRoomsSurviveBeingEmptied(kind: BusKind) async throws {
        try await ContractBus.with(kind, rules: Self.permanentLobby) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            await f.settle()  // Redis announces the permanent room it put in at start
            #expect(try await !f.joined(alice, Self.lobby).created)
            #expect(try await f.bus.leave(session: alice))
            await f.expectEvents([
                "zone changed Chat/Lobby users=1 zoneUsers=1", "room Chat/Lobby joined alice",
                "zone changed Chat/Lobby users=0 zoneUsers=1",
            ], including: ContractBus.lastLocalLeave("room Chat/Lobby left alice"))
            #expect(try await f.bus.zoneListing("Chat").rooms.map(\.name) == ["Lobby"])
        }
    }

    // MARK: Messages

    @Test(arguments: BusKind.allCases)
    func publishingIsRefusedToASessionNotInTheRoom(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let alice = try await f.loggedIn("alice")
            let bob = try await f.loggedIn("bob")
            try await f.joined(alice, Self.arena, create: RoomOptions())
            await f.settle()
            await #expect(throws: ClusterError.unavailable) {
                try await f.bus.publishAcknowledged(to: Self.arena, from: bob, message: ByteBuffer(string: "intruder"))
            }
            await #expect(throws: ClusterError.unavailable) {
                try await f.bus.publishAcknowledged(to: Self.arena, from: f.newSession(), message: ByteBuffer(string: "ghost"))
            }
            try await f.bus.publishAcknowledged(to: Self.arena, from: alice, message: ByteBuffer(string: "member"))
            await f.expectEvents(["room Chat/Arena message member"])
            #expect(try await f.bus.leave(session: alice))
            await #expect(throws: ClusterError.unavailable) {
                try await f.bus.publishAcknowledged(to: Self.arena, from: alice, message: ByteBuffer(string: "gone"))
            }
        }
    }

    @Test(arguments: BusKind.allCases)
    func privateMessagesReachKnownNamesAndReportTheIndicesOfUnknownOnes(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let bob = try await f.loggedIn("bob")
            let carol = try await f.loggedIn("carol")
            let keys = try ["nobody", "BOB", "ghost", "c\u{0430}rol"].map(ContractBus.key)
            #expect(try await f.bus.sendPrivate(to: keys, message: ByteBuffer(string: "psst")) == [0, 2])
            await f.expectEvents(["direct \(bob) psst", "direct \(carol) psst"])
            #expect(try await f.bus.sendPrivate(to: [ContractBus.key("x"), ContractBus.key("y")],
                                                message: ByteBuffer(string: "void")) == [0, 1])
            await f.bus.logout(session: bob)
            #expect(try await f.bus.sendPrivate(to: [ContractBus.key("bob")], message: ByteBuffer(string: "late")) == [0])
            #expect(try await f.bus.sendPrivate(to: [], message: ByteBuffer(string: "none")) == [])
            await f.expectNoEvents()
        }
    }

    // MARK: Password lockout

    @Test(arguments: BusKind.allCases)
    func wrongPasswordsLockANameOut(kind: BusKind) async throws {
        let rules = ClusterRules(passwordLockout: PasswordLockout(failures: 3, window: .seconds(60), lock: .seconds(60)))
        try await ContractBus.with(kind, rules: rules) { (f) async throws in
            let alice = try ContractBus.key("alice")
            #expect(try await !f.bus.isLockedOut(nameKey: alice))
            #expect(try await !f.bus.recordWrongPassword(nameKey: alice))
            #expect(try await !f.bus.recordWrongPassword(nameKey: try ContractBus.key("ALICE")))
            #expect(try await !f.bus.isLockedOut(nameKey: alice))
            #expect(try await f.bus.recordWrongPassword(nameKey: try ContractBus.key("\u{0430}lice")))
            #expect(try await f.bus.isLockedOut(nameKey: alice))
            #expect(try await !f.bus.isLockedOut(nameKey: try ContractBus.key("bob")), "one name only")
        }
    }

    @Test(arguments: BusKind.allCases)
    func aLockExpires(kind: BusKind) async throws {
        let rules = ClusterRules(passwordLockout: PasswordLockout(failures: 1, window: .seconds(60), lock: .milliseconds(300)))
        try await ContractBus.with(kind, rules: rules) { (f) async throws in
            let bob = try ContractBus.key("bob")
            #expect(try await f.bus.recordWrongPassword(nameKey: bob))
            #expect(try await f.bus.isLockedOut(nameKey: bob))
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await !f.bus.isLockedOut(nameKey: bob))
        }
    }
}
