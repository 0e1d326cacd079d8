import ChorusTesting
import ChatDomain
import ClusterBus
import NIOCore
import Synchronization
import Testing

/// The cluster of one: name claims, rooms, zones and the order of the events it delivers.
@Suite struct InProcessBusTests {
    static let lobby = RoomRef(zone: "Chat", name: "Lobby")
    static let permanentLobby = ClusterRules(permanentRooms: [lobby: RoomOptions(description: "Welcome")])

    // MARK: Login

    @Test func loginReturnsTheDefaultZoneListing() async throws {
        let f = try await BusFixture(rules: Self.permanentLobby)
        let outcome = try await f.login("alice", session: 1)
        #expect(outcome == .accepted(ZoneListing(zone: "Chat", users: 1, rooms: [
            RoomSummary(name: "Lobby", users: 0, capacity: nil, passwordProtected: false, hidden: false,
                        updatable: true, description: "Welcome"),
        ])))
        #expect(f.sink.take() == [], "a login alone changes no room")
    }

    @Test("a name is unique, case-insensitively and after NFC", arguments: [
        ("Bob", "bob"), ("Bob", "BOB"), ("bob", "bOb"), ("Z\u{E9}lie", "ZE\u{301}LIE"), ("Ze\u{301}lie", "z\u{E9}lie"),
    ])
    func nameIsUnique(_ pair: (String, String)) async throws {
        let f = try await BusFixture()
        #expect(try await f.login(pair.0, session: 1) != .nameInUse)
        #expect(try await f.login(pair.1, session: 2) == .nameInUse)
        #expect(try await f.bus.loggedInCount() == 1)
    }

    @Test func differentNamesMayLogIn() async throws {
        let f = try await BusFixture()
        #expect(try await f.login("bob", session: 1) != .nameInUse)
        #expect(try await f.login("bobby", session: 2) != .nameInUse)
        #expect(try await f.login("B\u{F3}b", session: 3) != .nameInUse)
        #expect(try await f.bus.loggedInCount() == 3)
    }

    @Test func nameIsFreeAgainAfterLogout() async throws {
        let f = try await BusFixture()
        let bob = try await f.loggedIn("bob", session: 1)
        await f.bus.logout(session: bob)
        #expect(try await f.login("BOB", session: 2) != .nameInUse)
        // And the new owner keeps it when the old session's logout is repeated.
        await f.bus.logout(session: bob)
        #expect(try await f.login("bob", session: 3) == .nameInUse)
    }

    @Test func loggedInCount() async throws {
        let f = try await BusFixture()
        #expect(try await f.bus.loggedInCount() == 0)
        let a = try await f.loggedIn("a", session: 1)
        try await f.loggedIn("b", session: 2)
        let c = try await f.loggedIn("c", session: 3, zone: "Other")
        #expect(try await f.bus.loggedInCount() == 3)
        _ = try await f.create(c, "Other", "Room")
        await f.bus.logout(session: a)
        await f.bus.logout(session: c)
        #expect(try await f.bus.loggedInCount() == 1)
        await f.bus.logout(session: BusFixture.session(99))
        #expect(try await f.bus.loggedInCount() == 1)
    }

    @Test func concurrentLoginsOfOneNameAcceptExactlyOne() async throws {
        let f = try await BusFixture()
        let spellings = ["racer", "RACER", "Racer", "rAcEr"]
        let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for number in 1...100 {
                let request = try BusFixture.request(spellings[number % spellings.count], session: UInt64(number))
                group.addTask {
                    if case .accepted = try await f.bus.login(request) { return true }
                    return false
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(accepted == 1)
        #expect(try await f.bus.loggedInCount() == 1)
    }

    // MARK: Join failures

    @Test func joiningAMissingRoom() async throws {
        let f = try await BusFixture()
        let alice = try await f.loggedIn("alice", session: 1)
        #expect(try await f.join(alice, "Chat", "Nowhere") == .failed(.roomDoesNotExist))
        #expect(f.sink.take() == [])
        #expect(try await f.bus.leave(session: alice) == false)
    }

    @Test func joinBeforeLoginIsNotLoggedIn() async throws {
        let f = try await BusFixture(rules: Self.permanentLobby)
        #expect(try await f.join(BusFixture.session(7), "Chat", "Lobby") == .failed(.notLoggedIn))
        #expect(f.sink.take() == [])
    }

    @Test func creatingAnExistingRoom() async throws {
        let f = try await BusFixture(rules: Self.permanentLobby)
        let alice = try await f.loggedIn("alice", session: 1)
        let bob = try await f.loggedIn("bob", session: 2)
        _ = try #require(try await f.create(alice, "Chat", "Den").joinedRoom)
        _ = f.sink.take()
        #expect(try await f.create(bob, "Chat", "Den") == .failed(.roomExists))
        #expect(try await f.create(bob, "Chat", "Lobby") == .failed(.roomExists), "permanent rooms exist too")
        #expect(f.sink.take() == [])
        // Case-sensitive names and zones: these are other rooms.
        #expect(try await f.create(bob, "Chat", "den").joinedRoom?.created == true)
    }

    @Test func creatingTheSameRoomInAnotherZone() async throws {
        let f = try await BusFixture()
        let alice = try await f.loggedIn("alice", session: 1)
        let bob = try await f.loggedIn("bob", session: 2)
        _ = try #require(try await f.create(alice, "Chat", "Den").joinedRoom)
        #expect(try await f.create(bob, "Games", "Den").joinedRoom?.created == true)
    }

    @Test func passwordProtectedRoom() async throws {
        let f = try await BusFixture()
        let owner = try await f.loggedIn("owner", session: 1)
        let guest = try await f.loggedIn("guest", session: 2)
        let created = try #require(try await f.create(owner, "Chat", "Vault", RoomOptions(password: "s3cret")).joinedRoom)
        #expect(created.summary.passwordProtected)
        _ = f.sink.take()

        #expect(try await f.join(guest, "Chat", "Vault") == .failed(.incorrectPassword))
        #expect(try await f.join(guest, "Chat", "Vault", password: "") == .failed(.incorrectPassword))
        #expect(try await f.join(guest, "Chat", "Vault", password: "S3CRET") == .failed(.incorrectPassword))
        #expect(f.sink.take() == [])
        let joined = try #require(try await f.join(guest, "Chat", "Vault", password: "s3cret").joinedRoom)
        #expect(joined.members.map(\.name) == ["owner", "guest"])
        let listed = try await f.bus.zoneListing("Chat").rooms
        #expect(listed.map(\.name) == ["Vault"])
        #expect(listed.first?.passwordProtected == true)
    }

    @Test func roomCapacity() async throws {
        let f = try await BusFixture()
        let a = try await f.loggedIn("a", session: 1)
        let b = try await f.loggedIn("b", session: 2)
        let c = try await f.loggedIn("c", session: 3)
        _ = try #require(try await f.create(a, "Chat", "Pair", RoomOptions(capacity: 2)).joinedRoom)
        _ = try #require(try await f.join(b, "Chat", "Pair").joinedRoom)
        _ = f.sink.take()
        #expect(try await f.join(c, "Chat", "Pair") == .failed(.roomFull))
        #expect(f.sink.take() == [])
        #expect(try await f.bus.leave(session: b))
        let joined = try #require(try await f.join(c, "Chat", "Pair").joinedRoom)
        #expect(joined.summary.users == 2)
        #expect(joined.summary.capacity == 2)
    }

    @Test func failedJoinLeavesTheUserWhereItWas() async throws {
        let f = try await BusFixture(rules: Self.permanentLobby)
        let a = try await f.loggedIn("a", session: 1)
        let b = try await f.loggedIn("b", session: 2)
        _ = try #require(try await f.create(a, "Chat", "Solo", RoomOptions(capacity: 1)).joinedRoom)
        _ = try #require(try await f.join(b, "Chat", "Lobby").joinedRoom)
        _ = f.sink.take()
        #expect(try await f.join(b, "Chat", "Solo") == .failed(.roomFull))
        #expect(try await f.join(b, "Chat", "Missing") == .failed(.roomDoesNotExist))
        #expect(f.sink.take() == [])
        let rooms = try await f.bus.zoneListing("Chat").rooms
        #expect(rooms.map(\.name) == ["Lobby", "Solo"])
        #expect(rooms.map(\.users) == [1, 1])
        #expect(try await f.join(b, "Chat", "Lobby") == .failed(.alreadyInRoom))
    }

    @Test func joiningTheCurrentRoomIsAlreadyInRoom() async throws {
        let f = try await BusFixture(rules: Self.permanentLobby)
        let alice = try await f.loggedIn("alice", session: 1)
        _ = try #require(try await f.join(alice, "Chat", "Lobby").joinedRoom)
        _ = f.sink.take()
        #expect(try await f.join(alice, "Chat", "Lobby") == .failed(.alreadyInRoom))
        #expect(f.sink.take() == [])
        #expect(try await f.bus.zoneListing("Chat").rooms.first?.users == 1)
    }

    /// `Already in room` is JoinRoom's reason; CreateRoom of the current room finds it exists.
    @Test func creatingTheCurrentRoomIsRoomAlreadyExists() async throws {
        let f = try await BusFixture()
        let alice = try await f.loggedIn("alice", session: 1)
        _ = try #require(try await f.create(alice, "Chat", "Arena").joinedRoom)
        #expect(try await f.create(alice, "Chat", "Arena") == .failed(.roomExists))
    }

    @Test func tooManyRooms() async throws {
        let f = try await BusFixture(rules: ClusterRules(permanentRooms: Self.permanentLobby.permanentRooms, maxRooms: 2))
        let a = try await f.loggedIn("a", session: 1)
        let b = try await f.loggedIn("b", session: 2)
        _ = try #require(try await f.create(a, "Chat", "One").joinedRoom)
        _ = f.sink.take()
        #expect(try await f.create(b, "Chat", "Two") == .failed(.tooManyRooms))
        #expect(try await f.create(b, "Games", "Two") == .failed(.tooManyRooms))
        #expect(f.sink.take() == [])
        // Joining existing rooms is still allowed, and a deleted room frees a place.
        _ = try #require(try await f.join(b, "Chat", "Lobby").joinedRoom)
        #expect(try await f.bus.leave(session: a))
        #expect(try await f.create(b, "Chat", "Two").joinedRoom?.created == true)
    }

    @Test func tooManyRoomsInAZoneCountsPermanentAndHiddenRooms() async throws {
        let f = try await BusFixture(rules: ClusterRules(permanentRooms: Self.permanentLobby.permanentRooms, maxRoomsPerZone: 2))
        let a = try await f.loggedIn("a", session: 1)
        let b = try await f.loggedIn("b", session: 2)
        let c = try await f.loggedIn("c", session: 3)
        // Chat holds the permanent Lobby: one more room fits.
        _ = try #require(try await f.create(a, "Chat", "One", RoomOptions(hidden: true)).joinedRoom)
        _ = f.sink.take()
        #expect(try await f.create(b, "Chat", "Two") == .failed(.tooManyRooms))
        #expect(try await f.create(b, "Chat", "One") == .failed(.roomExists), "an existing room is still Room already exists")
        #expect(f.sink.take() == [])
        // Another zone has its own count.
        _ = try #require(try await f.create(b, "Games", "Two").joinedRoom)
        _ = try #require(try await f.create(c, "Games", "Three").joinedRoom)
        #expect(try await f.create(a, "Games", "Four") == .failed(.tooManyRooms))
        #expect(try await f.bus.zoneListing("Games").rooms.map(\.name) == ["Two", "Three"])
        // Joining existing rooms of a full zone is fine; a deleted room frees a place.
        _ = try #require(try await f.join(a, "Chat", "Lobby").joinedRoom, "One (hidden, now empty) is deleted")
        #expect(try await f.create(b, "Chat", "Two").joinedRoom?.created == true)
        #expect(try await f.create(c, "Chat", "Three") == .failed(.tooManyRooms))
        #expect(try await f.create(c, "Games", "Four").joinedRoom?.created == true, "Two of Games was deleted when b left it")
    }

    // MARK: Permanent and hidden rooms

    @Test func permanentRoomsAreListedFromTheStart() async throws {
        let rules = ClusterRules(permanentRooms: [
            RoomRef(zone: "Chat", name: "Lobby"): RoomOptions(capacity: 50, description: "Welcome"),
            RoomRef(zone: "Chat", name: "Help"): RoomOptions(),
            RoomRef(zone: "Games", name: "Arena"): RoomOptions(),
            RoomRef(zone: "Chat", name: "Staff"): RoomOptions(hidden: true),
        ])
        let f = try await BusFixture(rules: rules)
        let chat = try await f.bus.zoneListing("Chat")
        #expect(chat.users == 0)
        #expect(Set(chat.rooms.map(\.name)) == ["Lobby", "Help"])
        #expect(chat.rooms.first { $0.name == "Lobby" }?.capacity == 50)
        #expect(chat.rooms.allSatisfy { $0.users == 0 })
        #expect(try await f.bus.zoneListing("Games").rooms.map(\.name) == ["Arena"])
        #expect(try await f.bus.zoneListing("Nowhere") == ZoneListing(zone: "Nowhere", users: 0, rooms: []))
    }

    @Test func permanentRoomSurvivesBeingEmptied() async throws {
        let f = try await BusFixture(rules: Self.permanentLobby)
        let alice = try await f.loggedIn("alice", session: 1)
        _ = try #require(try await f.join(alice, "Chat", "Lobby").joinedRoom)
        _ = f.sink.take()
        #expect(try await f.bus.leave(session: alice))
        #expect(f.sink.take() == [
            "room Chat/Lobby left alice",
            "zone changed Chat/Lobby users=0 zoneUsers=1",
        ])
        #expect(try await f.bus.zoneListing("Chat").rooms.map(\.name) == ["Lobby"])
        // Empty again after a logout: still there, and joinable.
        _ = try #require(try await f.join(alice, "Chat", "Lobby").joinedRoom)
        await f.bus.logout(session: alice)
        #expect(try await f.bus.zoneListing("Chat").rooms.map(\.name) == ["Lobby"])
        let bob = try await f.loggedIn("bob", session: 2)
        #expect(try await f.join(bob, "Chat", "Lobby").joinedRoom?.created == false)
    }

    @Test func hiddenRoomsAreNeverListedNorAnnounced() async throws {
        let f = try await BusFixture()
        let a = try await f.loggedIn("a", session: 1)
        let b = try await f.loggedIn("b", session: 2)
        let created = try #require(try await f.create(a, "Chat", "Secret", RoomOptions(hidden: true)).joinedRoom)
        #expect(created.summary.hidden)
        #expect(try await f.bus.zoneListing("Chat").rooms == [])
        _ = try #require(try await f.join(b, "Chat", "Secret").joinedRoom)
        #expect(try await f.bus.zoneListing("Chat").rooms == [])
        #expect(try await f.bus.leave(session: a))
        #expect(try await f.bus.leave(session: b))
        #expect(f.sink.take() == [
            "room Chat/Secret joined a",
            "room Chat/Secret joined b",
            "room Chat/Secret left a",
            "room Chat/Secret left b",
        ])
        // The emptied hidden room is gone.
        #expect(try await f.join(b, "Chat", "Secret") == .failed(.roomDoesNotExist))
    }

    @Test func hiddenRoomInANewZoneIsNotListedThere() async throws {
        let f = try await BusFixture()
        let a = try await f.loggedIn("a", session: 1)
        let joined = try #require(try await f.create(a, "Hideout", "Den", RoomOptions(hidden: true)).joinedRoom)
        #expect(joined.newZone == ZoneListing(zone: "Hideout", users: 1, rooms: []))
        #expect(f.sink.take() == ["room Hideout/Den joined a"])
    }

    // MARK: Event order

    @Test func joiningANewRoomAnnouncesItThenTheMember() async throws {
        let f = try await BusFixture()
        let alice = try await f.loggedIn("alice", session: 1)
        let joined = try #require(try await f.create(alice, "Chat", "Den", RoomOptions(description: "cosy")).joinedRoom)
        #expect(joined.created)
        #expect(joined.left == nil)
        #expect(joined.newZone == nil)
        #expect(joined.room == RoomRef(zone: "Chat", name: "Den"))
        #expect(joined.summary.users == 1)
        #expect(joined.summary.description == "cosy")
        #expect(joined.members == [UserProfile(name: "alice")])
        let events = f.sink.events
        try #require(events.count == 2)
        guard case .zone(let change) = events[0] else { Issue.record("first event: \(describe(events[0]))"); return }
        #expect(change.kind == .created)
        #expect(change.zone == "Chat")
        #expect(change.zoneUsers == 1)
        #expect(change.room == RoomSummary(name: "Den", users: 1, capacity: nil, passwordProtected: false,
                                           hidden: false, updatable: true, description: "cosy"))
        guard case .room(let ref, .joined(let session, let profile)) = events[1] else {
            Issue.record("second event: \(describe(events[1]))"); return
        }
        #expect(ref == RoomRef(zone: "Chat", name: "Den"))
        #expect(session == alice)
        #expect(profile == UserProfile(name: "alice"))
    }

    @Test func joiningAnExistingRoomChangesItsCountThenAnnouncesTheMember() async throws {
        let f = try await BusFixture()
        let a = try await f.loggedIn("a", session: 1)
        let b = try await f.loggedIn("b", session: 2)
        _ = try #require(try await f.create(a, "Chat", "Den").joinedRoom)
        let joined = try #require(try await f.join(b, "Chat", "Den").joinedRoom)
        #expect(!joined.created)
        #expect(joined.zoneUsers == 2)
        #expect(joined.members.map(\.name) == ["a", "b"])
        #expect(f.sink.take() == [
            "zone created Chat/Den users=1 zoneUsers=2",
            "room Chat/Den joined a",
            "zone changed Chat/Den users=2 zoneUsers=2",
            "room Chat/Den joined b",
        ])
    }

    @Test func leavingTheLastMemberDeletesTheRoom() async throws {
        let f = try await BusFixture()
        let alice = try await f.loggedIn("alice", session: 1)
        _ = try #require(try await f.create(alice, "Chat", "Den").joinedRoom)
        _ = f.sink.take()
        #expect(try await f.bus.leave(session: alice))
        #expect(f.sink.take() == [
            "room Chat/Den left alice",
            "zone deleted Chat/Den users=0 zoneUsers=1",
        ])
        #expect(try await f.bus.zoneListing("Chat") == ZoneListing(zone: "Chat", users: 1, rooms: []))
        #expect(try await f.bus.leave(session: alice) == false, "no room to leave any more")
        #expect(try await f.join(alice, "Chat", "Den") == .failed(.roomDoesNotExist))
    }

    @Test func leavingAnotherMemberChangesTheCount() async throws {
        let f = try await BusFixture()
        let a = try await f.loggedIn("a", session: 1)
        let b = try await f.loggedIn("b", session: 2)
        _ = try #require(try await f.create(a, "Chat", "Den").joinedRoom)
        _ = try #require(try await f.join(b, "Chat", "Den").joinedRoom)
        _ = f.sink.take()
        #expect(try await f.bus.leave(session: a))
        #expect(f.sink.take() == [
            "room Chat/Den left a",
            "zone changed Chat/Den users=1 zoneUsers=2",
        ])
        #expect(try await f.bus.zoneListing("Chat").rooms.map(\.users) == [1])
    }

    @Test func logoutLeavesTheRoom() async throws {
        let f = try await BusFixture()
        let a = try await f.loggedIn("a", session: 1)
        _ = try #require(try await f.create(a, "Chat", "Den").joinedRoom)
        _ = f.sink.take()
        await f.bus.logout(session: a)
        #expect(f.sink.take() == [
            "room Chat/Den left a",
            "zone deleted Chat/Den users=0 zoneUsers=0",
        ])
        #expect(try await f.bus.zoneListing("Chat") == ZoneListing(zone: "Chat", users: 0, rooms: []))
    }

    @Test func switchingRoomsInOneZoneLeavesFirst() async throws {
        let f = try await BusFixture(rules: Self.permanentLobby)
        let a = try await f.loggedIn("a", session: 1)
        _ = try #require(try await f.join(a, "Chat", "Lobby").joinedRoom)
        _ = f.sink.take()
        let joined = try #require(try await f.create(a, "Chat", "Den").joinedRoom)
        #expect(joined.left == Self.lobby)
        #expect(joined.newZone == nil)
        #expect(f.sink.take() == [
            "room Chat/Lobby left a",
            "zone changed Chat/Lobby users=0 zoneUsers=1",
            "zone created Chat/Den users=1 zoneUsers=1",
            "room Chat/Den joined a",
        ])
    }

    @Test func membersAreListedInJoinOrder() async throws {
        let f = try await BusFixture()
        let alice = try await f.loggedIn("alice", session: 1)
        let bob = try await f.loggedIn("bob", session: 2)
        let carol = try await f.loggedIn("carol", session: 3)
        let dave = try await f.loggedIn("dave", session: 4)
        _ = try #require(try await f.create(alice, "Chat", "Den").joinedRoom)
        #expect(try await f.join(bob, "Chat", "Den").joinedRoom?.members.map(\.name) == ["alice", "bob"])
        #expect(try await f.join(carol, "Chat", "Den").joinedRoom?.members.map(\.name) == ["alice", "bob", "carol"])
        #expect(try await f.bus.leave(session: bob))
        #expect(try await f.join(bob, "Chat", "Den").joinedRoom?.members.map(\.name) == ["alice", "carol", "bob"])
        #expect(try await f.join(dave, "Chat", "Den").joinedRoom?.members.map(\.name) == ["alice", "carol", "bob", "dave"])
    }

    @Test func membersCarryTheirProfiles() async throws {
        let f = try await BusFixture()
        let profile = UserProfile(name: "Mod", moderator: true, variables: [Variable(name: "color", data: "\u{1F49A}")])
        let request = LoginRequest(session: BusFixture.session(1), name: try UserName.validate("Mod", maxLength: 20).get(),
                                   profile: profile, zone: "Chat")
        _ = try await f.bus.login(request)
        let joined = try #require(try await f.create(request.session, "Chat", "Den").joinedRoom)
        #expect(joined.members == [profile])
    }

    // MARK: Zones

    @Test func movingToAnotherZone() async throws {
        let f = try await BusFixture(rules: Self.permanentLobby)
        let alice = try await f.loggedIn("alice", session: 1)
        try await f.loggedIn("bob", session: 2)
        #expect(try await f.bus.zoneListing("Chat").users == 2)

        let joined = try #require(try await f.create(alice, "Games", "Arena").joinedRoom)
        #expect(joined.left == nil)
        #expect(joined.zoneUsers == 1)
        #expect(joined.newZone == ZoneListing(zone: "Games", users: 1, rooms: [
            RoomSummary(name: "Arena", users: 1, options: RoomOptions()),
        ]))
        #expect(try await f.bus.zoneListing("Chat").users == 1)
        #expect(try await f.bus.zoneListing("Games").users == 1)
        #expect(f.sink.take() == [
            "zone created Games/Arena users=1 zoneUsers=1",
            "room Games/Arena joined alice",
        ])

        // Back to the default zone: counts move back, and the emptied Arena is deleted.
        let back = try #require(try await f.join(alice, "Chat", "Lobby").joinedRoom)
        #expect(back.left == RoomRef(zone: "Games", name: "Arena"))
        #expect(back.newZone?.zone == "Chat")
        #expect(back.newZone?.users == 2)
        #expect(back.zoneUsers == 2)
        #expect(try await f.bus.zoneListing("Games") == ZoneListing(zone: "Games", users: 0, rooms: []))
        #expect(try await f.bus.zoneListing("Chat").users == 2)
    }

    @Test func joiningInTheSameZoneHasNoNewZone() async throws {
        let f = try await BusFixture(rules: Self.permanentLobby)
        let alice = try await f.loggedIn("alice", session: 1)
        #expect(try await f.join(alice, "Chat", "Lobby").joinedRoom?.newZone == nil)
        #expect(try await f.bus.zoneListing("Chat").users == 1)
    }

    @Test func leavingARoomKeepsTheUserInItsZone() async throws {
        let f = try await BusFixture()
        let alice = try await f.loggedIn("alice", session: 1)
        _ = try #require(try await f.create(alice, "Games", "Arena").joinedRoom)
        #expect(try await f.bus.leave(session: alice))
        #expect(try await f.bus.zoneListing("Games").users == 1)
        #expect(try await f.bus.zoneListing("Chat").users == 0)
        // Creating again in Games is no zone change.
        #expect(try await f.create(alice, "Games", "Arena2").joinedRoom?.newZone == nil)
    }

    /// Regression: leaving a room for a room in another zone announces the old zone's change with a
    /// user count that still includes the departed user (ClusterState.removeMember reads the
    /// zone's count before join() moves the user out), and no later event corrects it.
    @Test func leavingAZoneAnnouncesItsNewUserCount() async throws {
        let f = try await BusFixture(rules: Self.permanentLobby)
        let alice = try await f.loggedIn("alice", session: 1)
        let bob = try await f.loggedIn("bob", session: 2)
        _ = try #require(try await f.join(alice, "Chat", "Lobby").joinedRoom)
        _ = try #require(try await f.join(bob, "Chat", "Lobby").joinedRoom)
        _ = f.sink.take()
        _ = try #require(try await f.create(alice, "Games", "Arena").joinedRoom)
        #expect(try await f.bus.zoneListing("Chat").users == 1)
        let events = f.sink.take()
        #expect(events.first == "room Chat/Lobby left alice")
        #expect(events.dropFirst(2) == [
            "zone created Games/Arena users=1 zoneUsers=1",
            "room Games/Arena joined alice",
        ])
        #expect(events.dropFirst().first == "zone changed Chat/Lobby users=1 zoneUsers=1")
    }

    /// A logout from a room announces the zone's count without the user who left.
    @Test func logoutAnnouncesTheZonesNewUserCount() async throws {
        let f = try await BusFixture(rules: Self.permanentLobby)
        let alice = try await f.loggedIn("alice", session: 1)
        let bob = try await f.loggedIn("bob", session: 2)
        _ = try #require(try await f.join(alice, "Chat", "Lobby").joinedRoom)
        _ = try #require(try await f.join(bob, "Chat", "Lobby").joinedRoom)
        _ = f.sink.take()
        await f.bus.logout(session: alice)
        #expect(try await f.bus.zoneListing("Chat").users == 1)
        #expect(f.sink.take() == [
            "room Chat/Lobby left alice",
            "zone changed Chat/Lobby users=1 zoneUsers=1",
        ])
    }

    // MARK: Messages

    @Test func publishGoesToTheRoom() async throws {
        let f = try await BusFixture(rules: Self.permanentLobby)
        let alice = try await f.loggedIn("alice", session: 1)
        _ = try #require(try await f.join(alice, "Chat", "Lobby").joinedRoom)
        _ = f.sink.take()
        try await f.bus.publishAcknowledged(to: Self.lobby, from: alice, message: f.buffer("<Message>hi &amp; bye</Message>"))
        try await f.bus.publishAcknowledged(to: Self.lobby, from: alice, message: f.buffer("second"))
        let events = f.sink.events
        try #require(events.count == 2)
        guard case .room(let ref, .message(let bytes)) = events[0] else { Issue.record("first event: \(describe(events[0]))"); return }
        #expect(ref == Self.lobby)
        #expect(bytes == ByteBuffer(string: "<Message>hi &amp; bye</Message>"))
        #expect(describe(events[1]) == "room Chat/Lobby message second")
    }

    @Test func messagesFollowJoinsInOneOrder() async throws {
        let f = try await BusFixture(rules: Self.permanentLobby)
        let a = try await f.loggedIn("a", session: 1)
        let b = try await f.loggedIn("b", session: 2)
        _ = try #require(try await f.join(a, "Chat", "Lobby").joinedRoom)
        try await f.bus.publishAcknowledged(to: Self.lobby, from: a, message: f.buffer("one"))
        _ = try #require(try await f.join(b, "Chat", "Lobby").joinedRoom)
        try await f.bus.publishAcknowledged(to: Self.lobby, from: a, message: f.buffer("two"))
        #expect(f.sink.take().filter { $0.hasPrefix("room ") } == [
            "room Chat/Lobby joined a",
            "room Chat/Lobby message one",
            "room Chat/Lobby joined b",
            "room Chat/Lobby message two",
        ])
    }

    @Test func privateMessagesReachKnownNamesAndReportUnknownOnes() async throws {
        let f = try await BusFixture()
        let alice = try await f.loggedIn("Alice", session: 1)
        let bob = try await f.loggedIn("Bob", session: 2, zone: "Elsewhere")
        let keys = ["bob", "nobody", UserName.key(for: "ALICE"), "ghost", UserName.key(for: "BOB")]
        let missing = try await f.bus.sendPrivate(to: keys, message: f.buffer("psst"))
        #expect(missing == [1, 3])
        let events = f.sink.events
        #expect(events.map(describe) == ["direct \(bob) psst", "direct \(alice) psst", "direct \(bob) psst"])
        guard case .direct(let first, let bytes) = try #require(events.first) else { return }
        #expect(first == bob)
        #expect(bytes == ByteBuffer(string: "psst"))
    }

    @Test func privateMessagesToNobodyReportEveryIndex() async throws {
        let f = try await BusFixture()
        #expect(try await f.bus.sendPrivate(to: ["x", "y"], message: f.buffer("m")) == [0, 1])
        #expect(try await f.bus.sendPrivate(to: [], message: f.buffer("m")) == [])
        #expect(f.sink.take() == [])
    }

    @Test func privateMessageToALoggedOutNameIsUnknown() async throws {
        let f = try await BusFixture()
        let bob = try await f.loggedIn("bob", session: 1)
        await f.bus.logout(session: bob)
        #expect(try await f.bus.sendPrivate(to: ["bob"], message: f.buffer("m")) == [0])
    }

    // MARK: Life cycle

    @Test func nothingIsDeliveredAfterShutdown() async throws {
        let f = try await BusFixture(rules: Self.permanentLobby)
        let alice = try await f.loggedIn("alice", session: 1)
        _ = try #require(try await f.join(alice, "Chat", "Lobby").joinedRoom)
        _ = f.sink.take()
        await f.bus.shutdown()
        _ = f.sink.take()
        await #expect(throws: ClusterError.unavailable) {
            try await f.bus.publishAcknowledged(to: Self.lobby, from: alice, message: f.buffer("late"))
        }
        #expect(f.sink.events.isEmpty)
    }

    /// The `ClusterBus` contract: shutdown "removes every session of this node from the cluster".
    @Test func shutdownRemovesTheNodesSessions() async throws {
        let f = try await BusFixture()
        try await f.loggedIn("alice", session: 1)
        await f.bus.shutdown()
        let count = try await f.bus.loggedInCount()
        #expect(count == 0)
    }

    @Test func nodeIDIsTheOneGiven() {
        let bus = InProcessBus(nodeID: NodeID("solo.12345678"))
        #expect(bus.nodeID == NodeID("solo.12345678"))
    }
}

// MARK: - Test support (file-private: other ClusterBusTests files may define their own)

/// A `ClusterEventSink` that records what the bus delivers, in order, under a lock.
private final class RecordingSink: ClusterEventSink {
    private let recorded = Mutex<[ClusterEvent]>([])

    func deliver(_ events: [ClusterEvent]) {
        recorded.withLock { $0.append(contentsOf: events) }
    }

    var events: [ClusterEvent] { recorded.withLock { $0 } }

    /// The events recorded since the last call, described (see `describe`).
    func take() -> [String] {
        recorded.withLock { events in
            defer { events.removeAll() }
            return events.map { describe($0) }
        }
    }
}

/// A started `InProcessBus` with a recording sink, and helpers to act as a node would.
private struct BusFixture {
    static let node = NodeID("test.00000001")
    let bus: InProcessBus
    let sink = RecordingSink()

    init(rules: ClusterRules = ClusterRules()) async throws {
        bus = InProcessBus(nodeID: Self.node, rules: rules)
        try await bus.start(sink: sink)
    }

    static func session(_ number: UInt64) -> SessionID { SessionID(node: node, number: number) }

    static func request(_ name: String, session number: UInt64, zone: String = "Chat") throws -> LoginRequest {
        let user = try UserName.validate(name, maxLength: 20).get()
        return LoginRequest(session: session(number), name: user, profile: UserProfile(name: user.display), zone: zone)
    }

    func login(_ name: String, session number: UInt64, zone: String = "Chat") async throws -> LoginOutcome {
        try await bus.login(Self.request(name, session: number, zone: zone))
    }

    /// Logs in and requires acceptance.
    @discardableResult
    func loggedIn(_ name: String, session number: UInt64, zone: String = "Chat") async throws -> SessionID {
        let outcome = try await login(name, session: number, zone: zone)
        guard case .accepted = outcome else {
            Issue.record("login of \(name) was refused: \(outcome)")
            return Self.session(number)
        }
        return Self.session(number)
    }

    func join(_ session: SessionID, _ zone: String, _ room: String, password: String? = nil) async throws -> JoinOutcome {
        try await bus.join(JoinRequest(session: session, room: RoomRef(zone: zone, name: room), password: password, create: nil))
    }

    func create(_ session: SessionID, _ zone: String, _ room: String, _ options: RoomOptions = RoomOptions()) async throws -> JoinOutcome {
        try await bus.join(JoinRequest(session: session, room: RoomRef(zone: zone, name: room), password: nil, create: options))
    }

    func buffer(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }
}

// `JoinOutcome.joinedRoom` comes from the shared test support (RedisBus/BusCluster.swift).
