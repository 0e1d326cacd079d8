import ChorusTesting
import ChatDomain
import ClusterBus
import NIOCore
import Testing

/// `RedisClusterBus` against a real redis-server: every script, seen from several buses
/// (nodes) of one cluster. docs/cluster.md is the specification.
@Suite("RedisClusterBus: scripts and events across buses")
struct RedisClusterBusTests {
    static let lobby = BusTest.room("Lobby")
    static let arena = BusTest.room("Arena")
    static let permanentLobby = ClusterRules(permanentRooms: [lobby: RoomOptions(description: "hall", permanent: true)])

    // MARK: login

    @Test func loginIsAcceptedWithTheDefaultZonesListing() async throws {
        try await BusCluster.with(buses: 2, rules: Self.permanentLobby) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let (_, first) = try await a.login("alice")
            let listing = try #require(first.acceptedListing)
            #expect(listing.zone == "Chat")
            #expect(listing.users == 1)
            #expect(listing.rooms == [RoomSummary(name: "Lobby", users: 0, capacity: nil, passwordProtected: false,
                                                  hidden: false, updatable: true, description: "hall")])
            let (_, second) = try await b.login("bob")
            #expect(second.acceptedListing?.users == 2, "zone users are counted cluster-wide")
            // Another zone as the default zone: its own count, no rooms.
            let (_, third) = try await b.login("carol", zone: "Games")
            #expect(third.acceptedListing == ZoneListing(zone: "Games", users: 1, rooms: []))
        }
    }

    @Test func aNameIsInUseOnEveryBusCaseInsensitively() async throws {
        try await BusCluster.with(buses: 3) { cluster in
            let (a, b, c) = (cluster[0], cluster[1], cluster[2])
            let alice = try await a.loggedIn("Alice")
            #expect(try await b.login("alice").1 == .nameInUse)
            #expect(try await c.login("ALICE").1 == .nameInUse)
            #expect(try await a.login("aLiCe").1 == .nameInUse, "also on the owner's own bus")
            // NFC: a decomposed É is the same name as a composed one.
            _ = try await a.loggedIn("\u{00C9}mile")
            #expect(try await b.login("E\u{0301}mile").1 == .nameInUse)
            #expect(try await c.login("\u{00E9}MILE").1 == .nameInUse)
            #expect(try await cluster.names()[UserName.key(for: "alice")] == alice.description)

            await a.bus.logout(session: alice)
            #expect(try await cluster.names()["alice"] == nil, "logout frees the name at once")
            let again = try await c.loggedIn("ALICE")
            #expect(try await cluster.names()["alice"] == again.description)
        }
    }

    @Test func theSameSessionCannotLogInTwice() async throws {
        try await BusCluster.with(buses: 1) { cluster in
            let a = cluster[0]
            let session = try await a.loggedIn("alice")
            let second = try await a.bus.login(BusNode.request("other", session: session))
            #expect(second == .nameInUse)
            #expect(try await cluster.names()["other"] == nil)
            #expect(try await a.bus.loggedInCount() == 1)
        }
    }

    // MARK: join

    @Test func creatingARoomIsSeenByEveryBusAndJoiningItReachesTheMembersBuses() async throws {
        try await BusCluster.with(buses: 3) { cluster in
            let (a, b, c) = (cluster[0], cluster[1], cluster[2])
            let alice = try await a.loggedIn("alice")
            let bob = try await b.loggedIn("bob")
            _ = try await c.loggedIn("carol")

            let created = try await a.joined(alice, Self.arena, create: RoomOptions(capacity: 5, description: "fight"))
            #expect(created.created)
            #expect(created.members.map(\.name) == ["alice"])
            #expect(created.summary == RoomSummary(name: "Arena", users: 1, capacity: 5, passwordProtected: false,
                                                   hidden: false, updatable: true, description: "fight"))
            #expect(created.left == nil)
            #expect(created.newZone == nil)
            #expect(created.zoneUsers == 3)

            // Every bus gets the room-list change; the creator's bus also its own join, after it.
            let createdLine = "zone created Chat/Arena users=1 zoneUsers=3"
            #expect(await a.sink.waitFor { $0 == [createdLine, "room Chat/Arena joined alice"] }, "\(a.sink.lines)")
            #expect(await b.sink.waitFor(line: createdLine), "\(b.sink.lines)")
            #expect(await c.sink.waitFor(line: createdLine), "\(c.sink.lines)")

            // bob (bus b) joins: bus a has a member there, so it sees the join too.
            let joined = try await b.joined(bob, Self.arena)
            #expect(!joined.created)
            #expect(joined.members.map(\.name) == ["alice", "bob"])
            #expect(joined.summary.users == 2)
            let bobJoined = "room Chat/Arena joined bob"
            #expect(await a.sink.waitFor(line: bobJoined), "\(a.sink.lines)")
            #expect(await b.sink.waitFor(line: bobJoined), "\(b.sink.lines)")
            #expect(await c.sink.waitFor(line: "zone changed Chat/Arena users=2 zoneUsers=3"), "\(c.sink.lines)")
            // Bus c has no member in the room: it gets no room events.
            #expect(!c.sink.lines.contains { $0.hasPrefix("room ") }, "\(c.sink.lines)")
            #expect(try await cluster.members(of: Self.arena) == [alice.description, bob.description])
        }
    }

    @Test func membersAreListedInJoinOrderAcrossBuses() async throws {
        try await BusCluster.with(buses: 3, rules: Self.permanentLobby) { cluster in
            var sessions: [SessionID] = []
            var names: [String] = []
            for index in 0..<7 {
                let bus = cluster[index % 3]
                let name = "user\(index)"
                let session = try await bus.loggedIn(name)
                let joined = try await bus.joined(session, Self.lobby)
                names.append(name)
                sessions.append(session)
                #expect(joined.members.map(\.name) == names)
            }
            #expect(try await cluster.members(of: Self.lobby) == sessions.map(\.description))
            // The first member leaves; the order of the others stays.
            _ = try await cluster[0].bus.leave(session: sessions[0])
            let late = try await cluster[1].loggedIn("late")
            let joined = try await cluster[1].joined(late, Self.lobby)
            #expect(joined.members.map(\.name) == Array(names.dropFirst()) + ["late"])
        }
    }

    @Test func joinFailuresGiveTheirExactReasonAndChangeNothing() async throws {
        try await BusCluster.with(buses: 2, rules: Self.permanentLobby) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let alice = try await a.loggedIn("alice")
            let bob = try await b.loggedIn("bob")
            let carol = try await b.loggedIn("carol")

            #expect(try await b.join(bob, BusTest.room("Nowhere")).failedReason == .roomDoesNotExist)
            // Room names are case-sensitive.
            #expect(try await b.join(bob, BusTest.room("lobby")).failedReason == .roomDoesNotExist)
            #expect(try await b.create(bob, Self.lobby).failedReason == .roomExists)

            try await a.joined(alice, BusTest.room("Secret"), create: RoomOptions(password: "pw"))
            #expect(try await b.join(bob, BusTest.room("Secret")).failedReason == .incorrectPassword)
            #expect(try await b.join(bob, BusTest.room("Secret"), password: "PW").failedReason == .incorrectPassword)
            try await b.joined(bob, BusTest.room("Secret"), password: "pw")
            #expect(try await a.join(alice, BusTest.room("Secret")).failedReason == .alreadyInRoom)

            // Capacity counts members of every bus.
            try await a.joined(alice, BusTest.room("Duo"), create: RoomOptions(capacity: 2))
            try await b.joined(bob, BusTest.room("Duo"))
            #expect(try await b.join(carol, BusTest.room("Duo")).failedReason == .roomFull)

            // The failed requests left everybody where they were.
            #expect(try await cluster.members(of: BusTest.room("Duo")).count == 2)
            #expect(try await cluster.members(of: Self.lobby).isEmpty)
            let listing = try await a.bus.zoneListing("Chat")
            #expect(listing.rooms.map(\.name) == ["Lobby", "Duo"], "Secret was left empty by both and deleted")
            #expect(listing.rooms.map(\.users) == [0, 2])
            #expect(listing.users == 3)
            try await b.joined(carol, Self.lobby)
            #expect(try await cluster.members(of: Self.lobby) == [carol.description])
        }
    }

    @Test func joinOfAnUnknownSessionIsRefused() async throws {
        try await BusCluster.with(buses: 1, rules: Self.permanentLobby) { cluster in
            let a = cluster[0]
            let ghost = a.newSession()
            let outcome = try await a.join(ghost, Self.lobby)
            #expect(outcome.failedReason == .notLoggedIn)
            #expect(try await cluster.members(of: Self.lobby).isEmpty)
        }
    }

    @Test func tooManyRoomsCountsPermanentRoomsAndEveryBus() async throws {
        var rules = Self.permanentLobby
        rules.maxRooms = 3
        try await BusCluster.with(buses: 2, rules: rules) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let alice = try await a.loggedIn("alice")
            let bob = try await b.loggedIn("bob")
            try await a.joined(alice, BusTest.room("One"), create: RoomOptions())
            try await b.joined(bob, BusTest.room("Two"), create: RoomOptions())
            let carol = try await a.loggedIn("carol")
            #expect(try await a.create(carol, BusTest.room("Three")).failedReason == .tooManyRooms)
            #expect(try await b.create(bob, BusTest.room("Three")).failedReason == .tooManyRooms)
            #expect(try await cluster.members(of: BusTest.room("Two")) == [bob.description], "bob stayed in Two")
            // An existing room still answers "Room already exists", not "Too many rooms".
            #expect(try await a.create(carol, BusTest.room("One")).failedReason == .roomExists)
            // Emptying a room makes space again.
            #expect(try await a.bus.leave(session: alice))
            try await a.joined(carol, BusTest.room("Three"), create: RoomOptions())
            #expect(try await cluster.raw(["GET", "\(cluster.prefix)roomcount"]).string == "3")
        }
    }

    @Test func tooManyRoomsInAZoneCountsPermanentRoomsAndEveryBus() async throws {
        var rules = Self.permanentLobby
        rules.maxRoomsPerZone = 2
        try await BusCluster.with(buses: 2, rules: rules) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let alice = try await a.loggedIn("alice")
            let bob = try await b.loggedIn("bob")
            let carol = try await a.loggedIn("carol")
            try await a.joined(alice, BusTest.room("One"), create: RoomOptions(hidden: true))
            #expect(try await b.create(bob, BusTest.room("Two")).failedReason == .tooManyRooms, "Lobby and One fill Chat")
            #expect(try await b.create(bob, BusTest.room("One")).failedReason == .roomExists)
            // Another zone has its own count, on every bus.
            let games = { (name: String) in RoomRef(zone: "Games", name: name) }
            try await b.joined(bob, games("Two"), create: RoomOptions())
            try await a.joined(carol, games("Three"), create: RoomOptions())
            #expect(try await a.create(alice, games("Four")).failedReason == .tooManyRooms)
            #expect(try await cluster.members(of: BusTest.room("One")) == [alice.description], "alice stayed in One")
            #expect(try await b.bus.zoneListing("Games").rooms.map(\.name) == ["Two", "Three"])
            #expect(try await cluster.raw(["GET", "\(cluster.prefix)roomcount"]).string == "4")
            // Emptying a room makes space again.
            try await a.joined(alice, Self.lobby)
            try await b.joined(bob, BusTest.room("Two"), create: RoomOptions())
            #expect(try await a.create(carol, BusTest.room("Three")).failedReason == .tooManyRooms)
            try await a.joined(carol, games("Four"), create: RoomOptions())
        }
    }

    @Test func concurrentCreationsInOneZoneStopExactlyAtItsLimit() async throws {
        var rules = Self.permanentLobby
        rules.maxRoomsPerZone = 5
        try await BusCluster.with(buses: 3, rules: rules) { cluster in
            var sessions: [(BusNode, SessionID)] = []
            for index in 0..<24 {
                let bus = cluster[index % 3]
                sessions.append((bus, try await bus.loggedIn("racer\(index)")))
            }
            let created = try await withThrowingTaskGroup(of: Reason?.self) { group in
                for (index, (bus, session)) in sessions.enumerated() {
                    group.addTask { try await bus.create(session, BusTest.room("R\(index)")).failedReason }
                }
                return try await group.reduce(into: [Reason?]()) { $0.append($1) }
            }
            #expect(created.filter { $0 == nil }.count == 4, "the Lobby and 4 of 24 fill the zone: \(created)")
            #expect(created.compactMap { $0 }.allSatisfy { $0 == .tooManyRooms })
            #expect(try await cluster[0].bus.zoneListing("Chat").rooms.count == 5)
            #expect(try await cluster.raw(["ZCARD", "\(cluster.prefix)zrooms:Chat"]).int == 5)
        }
    }

    @Test func joiningAnotherRoomLeavesTheCurrentOneFirst() async throws {
        try await BusCluster.with(buses: 2, rules: Self.permanentLobby) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let alice = try await a.loggedIn("alice")
            let bob = try await b.loggedIn("bob")
            try await a.joined(alice, Self.lobby)
            try await b.joined(bob, Self.lobby)
            for bus in [a, b] {
                #expect(await bus.sink.waitFor { $0.contains("room Chat/Lobby joined bob") && $0.contains("zone changed Chat/Lobby users=2 zoneUsers=2") })
                bus.sink.clear()
            }
            let moved = try await a.joined(alice, Self.arena, create: RoomOptions())
            #expect(moved.left == Self.lobby)
            #expect(moved.members.map(\.name) == ["alice"])
            #expect(await b.sink.waitFor { $0.contains("room Chat/Lobby left alice") && $0.contains("zone created Chat/Arena users=1 zoneUsers=2") },
                    "\(b.sink.lines)")
            // On bus a: the Lobby count, then the creation, then the join, in that order. (Whether
            // bus a still sees alice's leave of the Lobby is not specified: it has no member left
            // there.)
            #expect(await a.sink.waitFor(line: "room Chat/Arena joined alice"))
            #expect(a.sink.lines.filter { !$0.hasPrefix("room Chat/Lobby") } == [
                "zone changed Chat/Lobby users=1 zoneUsers=2", "zone created Chat/Arena users=1 zoneUsers=2",
                "room Chat/Arena joined alice",
            ])
            #expect(try await cluster.members(of: Self.lobby) == [bob.description])
        }
    }

    @Test func joiningARoomOfAnotherZoneMovesTheUserThere() async throws {
        try await BusCluster.with(buses: 2, rules: Self.permanentLobby) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let alice = try await a.loggedIn("alice")
            let bob = try await b.loggedIn("bob")
            let tables = RoomRef(zone: "Games", name: "Tables")
            let created = try await a.joined(alice, tables, create: RoomOptions())
            #expect(created.newZone?.zone == "Games")
            #expect(created.newZone?.users == 1)
            #expect(created.zoneUsers == 1)
            let joined = try await b.joined(bob, tables)
            #expect(joined.newZone == ZoneListing(zone: "Games", users: 2, rooms: [
                RoomSummary(name: "Tables", users: 2, capacity: nil, passwordProtected: false, hidden: false, updatable: true, description: ""),
            ]))
            #expect(try await a.bus.zoneListing("Chat").users == 0)
            #expect(try await a.bus.zoneListing("Games").users == 2)
            // Leaving the room keeps the user in the zone of that room.
            #expect(try await b.bus.leave(session: bob))
            #expect(try await b.bus.zoneListing("Games").users == 2)
            #expect(try await b.bus.zoneListing("Games").rooms.map(\.users) == [1])
            // Back to the Chat zone.
            let back = try await b.joined(bob, Self.lobby)
            #expect(back.newZone?.zone == "Chat")
            #expect(try await b.bus.zoneListing("Games").users == 1)
            #expect(try await b.bus.zoneListing("Chat").users == 1)
        }
    }

    @Test func hiddenRoomsAreNeverListedNorAnnounced() async throws {
        try await BusCluster.with(buses: 2) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let alice = try await a.loggedIn("alice")
            let bob = try await b.loggedIn("bob")
            let hidden = BusTest.room("Hideout")
            let created = try await a.joined(alice, hidden, create: RoomOptions(hidden: true))
            #expect(created.summary.hidden)
            try await b.joined(bob, hidden)
            #expect(try await a.bus.zoneListing("Chat").rooms.isEmpty)
            #expect(await a.sink.waitFor(line: "room Chat/Hideout joined bob"))
            #expect(!a.sink.lines.contains { $0.hasPrefix("zone ") }, "\(a.sink.lines)")
            #expect(!b.sink.lines.contains { $0.hasPrefix("zone ") }, "\(b.sink.lines)")
        }
    }

    // MARK: leave and logout

    @Test func leavingAnnouncesTheLeaveAndTheNewCountOrTheDeletion() async throws {
        try await BusCluster.with(buses: 3) { cluster in
            let (a, b, c) = (cluster[0], cluster[1], cluster[2])
            let alice = try await a.loggedIn("alice")
            let bob = try await b.loggedIn("bob")
            _ = try await c.loggedIn("carol")
            try await a.joined(alice, Self.arena, create: RoomOptions())
            try await b.joined(bob, Self.arena)
            #expect(await a.sink.waitFor(line: "room Chat/Arena joined bob"))

            #expect(try await b.bus.leave(session: bob))
            #expect(try await !b.bus.leave(session: bob), "in no room any more")
            #expect(await a.sink.waitFor { $0.suffix(2) == ["room Chat/Arena left bob", "zone changed Chat/Arena users=1 zoneUsers=3"] },
                    "\(a.sink.lines)")
            #expect(await c.sink.waitFor(line: "zone changed Chat/Arena users=1 zoneUsers=3"))

            #expect(try await a.bus.leave(session: alice))
            #expect(await a.sink.waitFor(line: "zone deleted Chat/Arena users=0 zoneUsers=3"), "\(a.sink.lines)")
            #expect(await c.sink.waitFor(line: "zone deleted Chat/Arena users=0 zoneUsers=3"))
            #expect(try await c.bus.zoneListing("Chat").rooms.isEmpty)
            #expect(try await cluster.keys().filter { $0.hasPrefix("room:") || $0.hasPrefix("members:") }.isEmpty)
            #expect(try await b.join(bob, Self.arena).failedReason == .roomDoesNotExist)
        }
    }

    @Test func permanentRoomsExistFromTheStartAndSurviveEmptying() async throws {
        try await BusCluster.with(buses: 2, rules: Self.permanentLobby) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            // Both buses ensured it: it exists once.
            #expect(try await a.bus.zoneListing("Chat").rooms.map(\.name) == ["Lobby"])
            let alice = try await a.loggedIn("alice")
            let bob = try await b.loggedIn("bob")
            try await a.joined(alice, Self.lobby)
            try await b.joined(bob, Self.lobby)
            #expect(try await a.bus.leave(session: alice))
            await b.bus.logout(session: bob)
            #expect(await a.sink.waitFor(line: "zone changed Chat/Lobby users=0 zoneUsers=1"), "\(a.sink.lines)")
            #expect(!a.sink.lines.contains { $0.hasPrefix("zone deleted") })
            let listing = try await b.bus.zoneListing("Chat")
            #expect(listing.rooms.map(\.name) == ["Lobby"])
            #expect(listing.rooms.first?.description == "hall")
            // A bus started later does not create it again.
            let late = try await cluster.addBus(name: "late")
            #expect(try await late.bus.zoneListing("Chat").rooms.map(\.name) == ["Lobby"])
            #expect(!late.sink.lines.contains { $0.hasPrefix("zone created") })
            #expect(try await cluster.raw(["GET", "\(cluster.prefix)roomcount"]).string == "1")
        }
    }

    @Test func afterEveryLogoutOnlyTheClustersPermanentKeysRemain() async throws {
        try await BusCluster.with(buses: 3, rules: Self.permanentLobby) { cluster in
            var sessions: [(BusNode, SessionID)] = []
            for index in 0..<9 {
                let bus = cluster[index % 3]
                let session = try await bus.loggedIn("user\(index)")
                sessions.append((bus, session))
                switch index % 3 {
                case 0: try await bus.joined(session, Self.lobby)
                case 1:
                    if index == 1 { try await bus.joined(session, Self.arena, create: RoomOptions(password: "x")) }
                    else { try await bus.joined(session, Self.arena, password: "x") }
                default:
                    if index == 2 { try await bus.joined(session, RoomRef(zone: "Games", name: "Tables"), create: RoomOptions()) }
                    else { try await bus.joined(session, RoomRef(zone: "Games", name: "Tables")) }
                }
            }
            #expect(try await cluster[0].bus.loggedInCount() == 9)
            #expect(try await cluster.keys().contains { $0.hasPrefix("s:") })
            for (bus, session) in sessions { await bus.bus.logout(session: session) }

            // The permanent room keeps its recent events (its history); the reapers' own
            // bookkeeping (`reaper`) comes and goes with their runs.
            var expected = ["epoch", "nodes", "roomcount", "seq", "room:Chat\u{1F}Lobby", "hist:Chat\u{1F}Lobby", "zrooms:Chat"]
            expected += cluster.buses.map { "alive:\($0.nodeID.rawValue)" }
            #expect(try await cluster.keys().filter { $0 != "reaper" } == expected.sorted())
            #expect(try await cluster.raw(["GET", "\(cluster.prefix)roomcount"]).string == "1")
            #expect(try await cluster[1].bus.loggedInCount() == 0)
            #expect(try await cluster[2].bus.zoneListing("Chat") == ZoneListing(zone: "Chat", users: 0, rooms: [
                RoomSummary(name: "Lobby", users: 0, capacity: nil, passwordProtected: false, hidden: false, updatable: true, description: "hall"),
            ]))
            #expect(try await cluster[2].bus.zoneListing("Games") == ZoneListing(zone: "Games", users: 0, rooms: []))
        }
    }

    @Test func logoutOfAnUnknownSessionDoesNothing() async throws {
        try await BusCluster.with(buses: 2) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let alice = try await a.loggedIn("alice")
            // Another bus does not own the session: its logout must not end it.
            await b.bus.logout(session: alice)
            await b.bus.logout(session: b.newSession())
            #expect(try await cluster.names()["alice"] == alice.description)
            #expect(try await a.bus.loggedInCount() == 1)
        }
    }

    // MARK: private messages, counts, listings

    @Test func privateMessagesReachTheOwningBusOnly() async throws {
        try await BusCluster.with(buses: 3) { cluster in
            let (a, b, c) = (cluster[0], cluster[1], cluster[2])
            _ = try await a.loggedIn("alice")
            let bob = try await b.loggedIn("Bob")
            let carol = try await c.loggedIn("carol")
            let missing = try await a.bus.sendPrivate(
                to: [UserName.key(for: "BOB"), "nobody", UserName.key(for: "Carol"), "ghost"],
                message: ByteBuffer(string: "psst"))
            #expect(missing == [1, 3])
            #expect(await b.sink.waitFor { $0 == ["direct \(bob) psst"] }, "\(b.sink.lines)")
            #expect(await c.sink.waitFor { $0 == ["direct \(carol) psst"] }, "\(c.sink.lines)")
            #expect(a.sink.lines.isEmpty, "the sender's bus gets no copy: \(a.sink.lines)")
            // To oneself's own bus, and to nobody at all.
            #expect(try await b.bus.sendPrivate(to: ["bob"], message: ByteBuffer(string: "self")) == [])
            #expect(await b.sink.waitFor(line: "direct \(bob) self"))
            #expect(try await a.bus.sendPrivate(to: ["x", "y"], message: ByteBuffer(string: "lost")) == [0, 1])
            // After logout the name is unknown.
            await c.bus.logout(session: carol)
            #expect(try await a.bus.sendPrivate(to: ["carol"], message: ByteBuffer(string: "late")) == [0])
        }
    }

    @Test(arguments: [
        ("UTF-8 text of every kind", ByteBuffer(string: "<XmlDoc><Message>é ∞ 🎉 &lt;&amp;\u{1F}\u{1E}\r\n\t'\"\\ %s</Message></XmlDoc>")),
        ("any byte, valid UTF-8 or not", ByteBuffer(bytes: Array(0...255).map(UInt8.init))),
    ])
    func privateMessageBytesArriveExactly(what: String, bytes: ByteBuffer) async throws {
        try await BusCluster.with(buses: 2) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            _ = try await a.loggedIn("alice")
            let bob = try await b.loggedIn("bob")
            #expect(try await a.bus.sendPrivate(to: ["bob"], message: bytes) == [])
            #expect(await b.sink.waitFor { $0.count == 1 })
            guard case .direct(let session, let received)? = b.sink.events.first else {
                Issue.record("no direct event: \(b.sink.lines)")
                return
            }
            #expect(session == bob)
            #expect(received == bytes, "\(what): the bytes changed on the way")
        }
    }

    @Test func countsAndListingsAreClusterWide() async throws {
        try await BusCluster.with(buses: 3, rules: Self.permanentLobby) { cluster in
            let (a, b, c) = (cluster[0], cluster[1], cluster[2])
            let alice = try await a.loggedIn("alice")
            let bob = try await b.loggedIn("bob")
            let carol = try await c.loggedIn("carol")
            _ = try await c.loggedIn("dave", zone: "Games")
            for bus in [a, b, c] { #expect(try await bus.bus.loggedInCount() == 4) }
            try await a.joined(alice, Self.lobby)
            try await b.joined(bob, Self.arena, create: RoomOptions(password: "pw", capacity: 3, description: "<d>"))
            try await c.joined(carol, Self.arena, password: "pw")
            let expected = ZoneListing(zone: "Chat", users: 3, rooms: [
                RoomSummary(name: "Lobby", users: 1, capacity: nil, passwordProtected: false, hidden: false, updatable: true, description: "hall"),
                RoomSummary(name: "Arena", users: 2, capacity: 3, passwordProtected: true, hidden: false, updatable: true, description: "<d>"),
            ])
            for bus in [a, b, c] { #expect(try await bus.bus.zoneListing("Chat") == expected) }
            #expect(try await a.bus.zoneListing("Games") == ZoneListing(zone: "Games", users: 1, rooms: []))
            #expect(try await a.bus.zoneListing("Nowhere") == ZoneListing(zone: "Nowhere", users: 0, rooms: []))
            // The room list of a login shows the same.
            let (_, login) = try await b.login("eve")
            #expect(login.acceptedListing?.rooms == expected.rooms)
            #expect(login.acceptedListing?.users == 4)
        }
    }

    @Test func roomAndUserDataRoundTripThroughRedis() async throws {
        try await BusCluster.with(buses: 2) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let variables = [Variable(name: "colour", data: "blue & <green>"), Variable(name: "empty", data: "")]
            let alice = a.newSession()
            #expect(try await a.bus.login(BusNode.request("Zoë", session: alice, variables: variables)).acceptedListing != nil)
            let description = "<wddxPacket version='1.0'><data><string>ünïcode 🎉</string></data></wddxPacket>"
            try await a.joined(alice, BusTest.room("Ölhaus ∞"), create: RoomOptions(capacity: 7, description: description))
            let bob = try await b.loggedIn("bob")
            let joined = try await b.joined(bob, BusTest.room("Ölhaus ∞"))
            #expect(joined.members.first == UserProfile(name: "Zoë", moderator: false, variables: variables))
            #expect(joined.summary.description == description)
            #expect(joined.summary.capacity == 7)
            #expect(await a.sink.waitFor(line: "room Chat/Ölhaus ∞ joined bob"))
            guard case .room(_, .joined(let session, let profile))? = a.sink.events.last else {
                Issue.record("no join event: \(a.sink.lines)")
                return
            }
            #expect(session == bob)
            #expect(profile == UserProfile(name: "bob"))
        }
    }

    // MARK: publish

    @Test func publicMessagesArriveInOneOrderAtEveryBus() async throws {
        try await BusCluster.with(buses: 3) { cluster in
            let buses = cluster.buses
            var sessions: [SessionID] = []
            for (index, bus) in buses.enumerated() {
                let session = try await bus.loggedIn("sender\(index)")
                try await bus.joined(session, Self.arena, create: index == 0 ? RoomOptions() : nil)
                sessions.append(session)
            }
            // Every bus must have seen the last join before the messages start.
            for bus in buses { #expect(await bus.sink.waitFor(line: "room Chat/Arena joined sender2")) }

            let perSender = 60
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, bus) in buses.enumerated() {
                    group.addTask {
                        for k in 0..<perSender {
                            try await bus.publish("m\(index)-\(k)", to: Self.arena)
                            if k % 5 == 0 { await Task.yield() }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let total = perSender * buses.count
            for bus in buses {
                #expect(await eventually { bus.sink.messages(in: Self.arena).count >= total },
                        "\(bus.name) got \(bus.sink.messages(in: Self.arena).count) of \(total)")
            }
            let reference = buses[0].sink.messages(in: Self.arena)
            #expect(reference.count == total)
            for bus in buses.dropFirst() {
                #expect(bus.sink.messages(in: Self.arena) == reference, "\(bus.name) saw another order")
            }
            for index in buses.indices {
                let own = reference.filter { $0.hasPrefix("m\(index)-") }
                #expect(own == (0..<perSender).map { "m\(index)-\($0)" }, "sender \(index)'s messages out of order")
            }
        }
    }

    @Test func joinsLeavesAndMessagesOfARoomAreInOneOrderAtEveryBus() async throws {
        try await BusCluster.with(buses: 3, rules: Self.permanentLobby) { cluster in
            let (a, b, c) = (cluster[0], cluster[1], cluster[2])
            let anchorA = try await a.loggedIn("anchorA")
            let anchorB = try await b.loggedIn("anchorB")
            try await a.joined(anchorA, Self.lobby)
            try await b.joined(anchorB, Self.lobby)
            #expect(await a.sink.waitFor(line: "room Chat/Lobby joined anchorB"))
            #expect(await b.sink.waitFor(line: "room Chat/Lobby joined anchorB"))
            a.sink.clear()
            b.sink.clear()
            // Bus c's users come and go while a and b publish.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for k in 0..<10 {
                        let session = try await c.loggedIn("visitor\(k)")
                        try await c.joined(session, Self.lobby)
                        await c.bus.logout(session: session)
                    }
                }
                group.addTask {
                    for k in 0..<40 {
                        try await a.publish("a\(k)", to: Self.lobby)
                        try await b.publish("b\(k)", to: Self.lobby)
                        try await Task.sleep(for: .milliseconds(2))
                    }
                }
                try await group.waitForAll()
            }
            let roomLines: @Sendable ([String]) -> [String] = { $0.filter { $0.hasPrefix("room Chat/Lobby") } }
            #expect(await a.sink.waitFor { roomLines($0).count == 100 }, "\(roomLines(a.sink.lines).count)")
            #expect(await b.sink.waitFor { roomLines($0).count == 100 }, "\(roomLines(b.sink.lines).count)")
            #expect(roomLines(a.sink.lines) == roomLines(b.sink.lines))
        }
    }

    @Test func publicMessageBytesArriveExactly() async throws {
        try await BusCluster.with(buses: 2, rules: Self.permanentLobby) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let alice = try await a.loggedIn("alice")
            let bob = try await b.loggedIn("bob")
            try await a.joined(alice, Self.lobby)
            try await b.joined(bob, Self.lobby)
            #expect(await a.sink.waitFor(line: "room Chat/Lobby joined bob"))
            let bytes = ByteBuffer(bytes: Array(0...255).map(UInt8.init) + Array("é🎉".utf8))
            try await a.bus.publishAcknowledged(to: Self.lobby, from: alice, message: bytes)
            for bus in [a, b] {
                #expect(await eventually { bus.sink.events.contains { if case .room(_, .message) = $0 { true } else { false } } })
                let received = bus.sink.events.compactMap { event -> ByteBuffer? in
                    if case .room(Self.lobby, .message(let payload)) = event { return payload }
                    return nil
                }
                #expect(received == [bytes], "\(bus.name)")
            }
        }
    }

    @Test func aMessageStopsReachingABusWhoseLastMemberLeft() async throws {
        try await BusCluster.with(buses: 2, rules: Self.permanentLobby) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let alice = try await a.loggedIn("alice")
            let bob = try await b.loggedIn("bob")
            try await a.joined(alice, Self.lobby)
            try await b.joined(bob, Self.lobby)
            try await a.publish("one", to: Self.lobby)
            #expect(await b.sink.waitFor(line: "room Chat/Lobby message one"))
            #expect(try await b.bus.leave(session: bob))
            #expect(await a.sink.waitFor(line: "room Chat/Lobby left bob"))
            b.sink.clear()
            try await a.publish("two", to: Self.lobby)
            #expect(await a.sink.waitFor(line: "room Chat/Lobby message two"))
            // Round trip on b's connection to be sure nothing is on its way.
            _ = try await b.bus.loggedInCount()
            #expect(!b.sink.lines.contains("room Chat/Lobby message two"), "\(b.sink.lines)")
        }
    }
}
