import ChorusTesting
import ChatDomain
import ClusterBus
import NIOCore
import Testing

/// What happens when a part of the cluster fails (docs/cluster.md, "Failures"): a node dies
/// without a word, a node leaves on purpose, Redis goes away and comes back empty, one node
/// is cut off from Redis while the others are not.
///
/// Serialized: these tests measure time bounds (10 s, 2 s) on a small shared machine.
@Suite("RedisClusterBus: failures", .serialized)
struct RedisClusterFailureTests {
    static let lobby = BusTest.room("Lobby")
    static let arena = BusTest.room("Arena")
    static let rules = ClusterRules(permanentRooms: [lobby: RoomOptions(permanent: true)])

    // MARK: a node dies

    @Test func aBusThatStopsWithoutDeregisteringIsReapedWithinTenSeconds() async throws {
        try await BusCluster.with(buses: 2, rules: Self.rules) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let dead = try await cluster.addBus(name: "dead", ownGroup: true)
            let alice = try await a.loggedIn("alice")
            try await a.joined(alice, Self.lobby)
            let doomed1 = try await dead.loggedIn("doomed1")
            try await dead.joined(doomed1, Self.lobby)
            let doomed2 = try await dead.loggedIn("Doomed2")
            try await dead.joined(doomed2, Self.arena, create: RoomOptions())
            _ = try await dead.loggedIn("doomed3")
            #expect(await a.sink.waitFor(line: "room Chat/Lobby joined doomed1"))
            #expect(try await cluster.keys(of: dead.nodeID).count == 5, "alive, sessions, and 3 session hashes")

            try await cluster.kill(dead)
            let (reaped, took) = await BusTest.elapsed {
                await a.sink.waitFor(line: "room Chat/Lobby left doomed1", .seconds(15))
            }
            #expect(reaped, "the dead node's member never left: \(a.sink.lines)")
            #expect(took < .seconds(10), "reaped after \(took)")
            #expect(await b.sink.waitFor(.seconds(2)) { $0.contains { $0.hasPrefix("zone deleted Chat/Arena users=0 ") } }, "\(b.sink.lines)")
            // Everything of the dead node is gone, and its names are free.
            #expect(try await cluster.keys(of: dead.nodeID) == [])
            #expect(try await !cluster.registeredNodes().contains(dead.nodeID.rawValue))
            #expect(try await cluster.names().keys.sorted() == ["alice"])
            #expect(try await a.bus.loggedInCount() == 1)
            #expect(try await b.bus.zoneListing("Chat") == ZoneListing(zone: "Chat", users: 1, rooms: [
                RoomSummary(name: "Lobby", users: 1, capacity: nil, passwordProtected: false, hidden: false, updatable: true, description: ""),
            ]))
            for name in ["doomed1", "DOOMED2", "doomed3"] {
                #expect(try await b.login(name).1.acceptedListing != nil, "\(name) is still taken")
            }
        }
    }

    @Test func aDeadNodesNameIsFreeForALoginAsSoonAsItsHeartbeatExpired() async throws {
        try await BusCluster.with(buses: 1) { cluster in
            let a = cluster[0]
            let dead = try await cluster.addBus(name: "dead", ownGroup: true)
            _ = try await dead.loggedIn("ghost")
            try await cluster.kill(dead)
            // Until the heartbeat expires the name is taken; then a login takes it, reaped or not.
            let (accepted, took) = try await BusTest.elapsed {
                try await eventually(timeout: .seconds(12)) { try await a.login("ghost").1.acceptedListing != nil }
            }
            #expect(accepted)
            #expect(took < .seconds(8), "took \(took)")
            #expect(try await a.bus.loggedInCount() == 1)
        }
    }

    // MARK: a node leaves

    @Test func shutdownRemovesAllTheBusesSessionsAtOnce() async throws {
        try await BusCluster.with(buses: 2, rules: Self.rules) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let alice = try await a.loggedIn("alice")
            try await a.joined(alice, Self.lobby)
            let bob = try await b.loggedIn("bob")
            try await b.joined(bob, Self.lobby)
            let carol = try await b.loggedIn("carol")
            try await b.joined(carol, Self.arena, create: RoomOptions())
            _ = try await b.loggedIn("dave", zone: "Games")
            #expect(await a.sink.waitFor(line: "room Chat/Lobby joined bob"))

            await cluster.shutdown(b)
            // No polling: shutdown() returns after the node is out of Redis.
            #expect(try await cluster.keys(of: b.nodeID) == [])
            #expect(try await !cluster.registeredNodes().contains(b.nodeID.rawValue))
            #expect(try await cluster.names() == ["alice": alice.description])
            #expect(try await cluster.members(of: Self.lobby) == [alice.description])
            #expect(try await cluster.keys().filter { $0.hasPrefix("room:Chat\u{1F}Arena") || $0.hasPrefix("members:Chat\u{1F}Arena") || $0.hasPrefix("zrooms:Games") || $0.hasPrefix("zusers:Games") } == [])
            #expect(try await a.bus.zoneListing("Chat") == ZoneListing(zone: "Chat", users: 1, rooms: [
                RoomSummary(name: "Lobby", users: 1, capacity: nil, passwordProtected: false, hidden: false, updatable: true, description: ""),
            ]))
            #expect(await a.sink.waitFor { $0.contains("room Chat/Lobby left bob") && $0.contains { $0.hasPrefix("zone deleted Chat/Arena users=0 ") } },
                    "\(a.sink.lines)")
        }
    }

    // MARK: Redis goes away

    @Test func duringARedisOutageOperationsFailFastAndAfterAnEmptyRestartEverythingIsBack() async throws {
        try await BusCluster.with(buses: 2, rules: Self.rules) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let alice = try await a.loggedIn("alice")
            try await a.joined(alice, Self.lobby)
            let bob = try await b.loggedIn("bob")
            try await b.joined(bob, Self.lobby)
            let carol = try await b.loggedIn("carol")
            try await b.joined(carol, Self.arena, create: RoomOptions(capacity: 9, description: "kept"))
            let dave = try await a.loggedIn("dave")
            #expect(await a.sink.waitFor(line: "room Chat/Lobby joined bob"))
            let before = try await cluster.names()

            await cluster.redis.stop()

            func failsFast<T>(_ what: String, _ body: () async throws(ClusterError) -> T) async {
                let (result, took) = await BusTest.elapsed { await BusTest.outcome(body) }
                switch result {
                case .failure(.unavailable): break
                case .success(let value): Issue.record("\(what) succeeded without Redis: \(value)")
                }
                #expect(took < .seconds(2), "\(what) took \(took)")
            }
            await failsFast("login") { () async throws(ClusterError) in try await a.bus.login(try! BusNode.request("eve", session: a.newSession())) }
            await failsFast("join") { () async throws(ClusterError) in
                try await a.bus.join(JoinRequest(session: dave, room: Self.lobby, password: nil, create: nil))
            }
            await failsFast("create") { () async throws(ClusterError) in
                try await b.bus.join(JoinRequest(session: bob, room: BusTest.room("New"), password: nil, create: RoomOptions()))
            }
            await failsFast("leave") { () async throws(ClusterError) in try await a.bus.leave(session: alice) }
            await failsFast("sendPrivate") { () async throws(ClusterError) in try await a.bus.sendPrivate(to: ["bob"], message: ByteBuffer(string: "x")) }
            await failsFast("zoneListing") { () async throws(ClusterError) in try await b.bus.zoneListing("Chat") }
            await failsFast("loggedInCount") { () async throws(ClusterError) in try await b.bus.loggedInCount() }
            await failsFast("publish") { () async throws(ClusterError) in try await a.bus.publishAcknowledged(to: Self.lobby, from: alice, message: ByteBuffer(string: "lost")) }
            // Still failing fast a little later, while the links retry.
            try await Task.sleep(for: .milliseconds(500))
            await failsFast("login again") { () async throws(ClusterError) in try await b.bus.login(try! BusNode.request("eve", session: b.newSession())) }
            await failsFast("publish again") { () async throws(ClusterError) in try await b.bus.publishAcknowledged(to: Self.lobby, from: bob, message: ByteBuffer(string: "lost")) }

            try await cluster.redis.restart()
            let (restored, took) = try await BusTest.elapsed {
                try await eventually { try await cluster.names() == before }
            }
            let namesAfter = try await cluster.names()
            #expect(restored, "names after the restart: \(namesAfter), before: \(before)")
            #expect(took < .seconds(10), "sessions back after \(took)")
            let membersBack = await eventually {
                let lobby = try? await Set(cluster.members(of: Self.lobby))
                let arena = try? await cluster.members(of: Self.arena)
                return lobby == [alice.description, bob.description] && arena == [carol.description]
            }
            #expect(membersBack, "room members not restored")
            // Operations work again, and publish reaches the other bus.
            #expect(await eventually { (try? await a.publish("back", to: Self.lobby)) != nil })
            #expect(await b.sink.waitFor(line: "room Chat/Lobby message back"))
            #expect(try await a.bus.loggedInCount() == 4)
            let listing = try await b.bus.zoneListing("Chat")
            #expect(listing.users == 4)
            #expect(listing.rooms.map(\.name).sorted() == ["Arena", "Lobby"])
            #expect(listing.rooms.first { $0.name == "Arena" } == RoomSummary(name: "Arena", users: 1, capacity: 9, passwordProtected: false,
                                                                               hidden: false, updatable: true, description: "kept"))
            #expect(try await a.login("BOB").1 == .nameInUse)
            #expect(try await b.login("eve").1.acceptedListing != nil)
            // The restored state is complete enough to be released cleanly.
            for (bus, session) in [(a, alice), (b, bob), (b, carol), (a, dave)] { await bus.bus.logout(session: session) }
            #expect(try await cluster.names().keys.sorted() == ["eve"])
            #expect(try await cluster.members(of: Self.lobby) == [])
            #expect(try await cluster.keys().filter { $0.hasPrefix("room:Chat\u{1F}Arena") || $0.hasPrefix("members:Chat\u{1F}Arena") } == [])
        }
    }

    @Test func anEmptyRestartKeepsTheJoinOrderOfARoomsMembers() async throws {
        try await BusCluster.with(buses: 2, rules: Self.rules) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            var names: [String] = []
            for index in 0..<6 {
                let bus = index % 2 == 0 ? a : b
                let session = try await bus.loggedIn("user\(index)")
                try await bus.joined(session, Self.lobby)
                names.append("user\(index)")
            }
            let before = try await cluster.members(of: Self.lobby)
            try await cluster.redis.restart()
            let back = await eventually { (try? await cluster.members(of: Self.lobby).count) == 6 }
            #expect(back, "the members were not restored")
            let after = try await cluster.members(of: Self.lobby)
            #expect(after == before, "members in join order: before the restart \(before), after \(after)")
            let late = try await a.loggedIn("late")
            let joined = try await a.joined(late, Self.lobby)
            #expect(joined.members.map(\.name) == names + ["late"], "JoinRoom's user list must be in join order")
        }
    }

    @Test func anEmptyRestartDoesNotAnnounceRoomsThatWereListedAllAlongAsNew() async throws {
        try await BusCluster.with(buses: 1, rules: Self.rules) { cluster in
            let a = cluster[0]
            let alice = try await a.loggedIn("alice")
            try await a.joined(alice, Self.lobby)
            let bob = try await a.loggedIn("bob")
            try await a.joined(bob, Self.arena, create: RoomOptions())
            #expect(await a.sink.waitFor(line: "room Chat/Arena joined bob"))
            a.sink.clear()

            try await cluster.redis.restart()
            // The restore of bob's room announces its count (an update): wait for it.
            #expect(await a.sink.waitFor { $0.contains { $0.hasPrefix("zone changed Chat/Arena users=1") } }, "\(a.sink.lines)")
            #expect(await eventually { (try? await cluster.names().count) == 2 })
            // Clients had Lobby and Arena in their lists all along: an UpdateRoomList
            // CreateRoom for them would add a second entry.
            #expect(!a.sink.lines.contains { $0.hasPrefix("zone created") },
                    "after the restart: \(a.sink.lines)")
        }
    }

    @Test func aLogoutDuringAnOutageIsCompletedWhenRedisIsBack() async throws {
        try await BusCluster.with(buses: 1, rules: Self.rules) { cluster in
            let b = cluster[0]
            let proxy = try await cluster.makeProxy()
            let a = try await cluster.addBus(name: "proxied", url: proxy.url)
            let alice = try await a.loggedIn("alice")
            try await a.joined(alice, Self.lobby)
            let bob = try await b.loggedIn("bob")
            try await b.joined(bob, Self.lobby)
            #expect(await b.sink.waitFor(line: "room Chat/Lobby joined bob"))

            proxy.cut()
            let (_, took) = await BusTest.elapsed { await a.bus.logout(session: alice) }
            #expect(took < .seconds(2), "logout took \(took) without Redis")
            #expect(try await cluster.names()["alice"] == alice.description, "Redis did not hear of it yet")

            proxy.mend()
            #expect(await b.sink.waitFor(line: "room Chat/Lobby left alice"), "\(b.sink.lines)")
            #expect(try await cluster.names() == ["bob": bob.description])
            #expect(try await cluster.members(of: Self.lobby) == [bob.description])
            #expect(try await cluster.keys().filter { $0.hasPrefix("s:\(a.nodeID.rawValue)/") } == [])
        }
    }

    @Test func aNameClaimedElsewhereDuringTheOutageEvictsTheStaleSession() async throws {
        try await BusCluster.with(buses: 1, rules: Self.rules) { cluster in
            let b = cluster[0]
            let proxy = try await cluster.makeProxy()
            let a = try await cluster.addBus(name: "proxied", url: proxy.url)
            let aliceA = try await a.loggedIn("alice")
            try await a.joined(aliceA, Self.lobby)
            let carol = try await a.loggedIn("carol")
            try await a.joined(carol, Self.lobby)

            // Redis restarts empty while bus a cannot reach it; bus b can, and a user of b
            // takes alice's name.
            proxy.cut()
            try await cluster.redis.restart()
            var aliceB: SessionID?
            let claimed = try await eventually {
                let (session, result) = try await BusTest.tryLogin(b, "ALICE")
                switch result {
                case .success(.accepted): aliceB = session; return true
                case .success(.nameInUse), .success(.nameBanned): Issue.record("alice's name is taken in an empty Redis"); return true
                case .failure: return false
                }
            }
            #expect(claimed)
            let winner = try #require(aliceB)
            try await b.joined(winner, Self.lobby)

            proxy.mend()
            #expect(await a.sink.waitFor(line: "evict \(aliceA) Name is already in use"), "\(a.sink.lines)")
            #expect(await eventually { (try? await cluster.names()["carol"]) == carol.description }, "carol was not restored")
            #expect(try await cluster.names() == ["alice": winner.description, "carol": carol.description])
            #expect(try await cluster.keys().contains("s:\(aliceA)") == false)
            #expect(Set(try await cluster.members(of: Self.lobby)) == [winner.description, carol.description])
            #expect(b.sink.lines.filter { $0.hasPrefix("evict") }.isEmpty, "the winner is not evicted: \(b.sink.lines)")
            // The node ends the evicted session: that must not touch the winner.
            await a.bus.logout(session: aliceA)
            #expect(try await cluster.names()["alice"] == winner.description)
            #expect(Set(try await cluster.members(of: Self.lobby)) == [winner.description, carol.description])
            #expect(try await a.bus.loggedInCount() == 2)
        }
    }

    @Test func aBusTakenForDeadWhileAliveRestoresItsSessionsAndTheirRoomsSeeThemAgain() async throws {
        try await BusCluster.with(buses: 1, rules: Self.rules) { cluster in
            let b = cluster[0]
            let proxy = try await cluster.makeProxy()
            let a = try await cluster.addBus(name: "proxied", url: proxy.url)
            let alice = try await a.loggedIn("alice")
            try await a.joined(alice, Self.lobby)
            let bob = try await b.loggedIn("bob")
            try await b.joined(bob, Self.lobby)
            #expect(await a.sink.waitFor(line: "room Chat/Lobby joined bob"))

            // Cut off for longer than the heartbeat's 6 s: bus b reaps bus a.
            proxy.cut()
            #expect(await b.sink.waitFor(line: "room Chat/Lobby left alice", .seconds(15)), "\(b.sink.lines)")
            #expect(try await cluster.names() == ["bob": bob.description])

            b.sink.clear()
            proxy.mend()
            let aliceBack = await eventually { (try? await cluster.names()) == ["alice": alice.description, "bob": bob.description] }
            let namesAfter = try await cluster.names()
            #expect(aliceBack, "alice was not restored: \(namesAfter)")
            #expect(Set(try await cluster.members(of: Self.lobby)) == [alice.description, bob.description])
            #expect(try await !cluster.keys(of: a.nodeID).isEmpty)
            // alice is in the room again for everybody: bob's node must learn it (its clients
            // were told that alice left).
            #expect(await b.sink.waitFor(line: "room Chat/Lobby joined alice"),
                    "members on other nodes never hear that the restored session is back in the room: \(b.sink.lines)")
            // And messages flow both ways.
            #expect(await eventually { (try? await a.publish("from alice", to: Self.lobby)) != nil })
            #expect(await b.sink.waitFor(line: "room Chat/Lobby message from alice"))
            try await b.publish("from bob", to: Self.lobby)
            #expect(await a.sink.waitFor(line: "room Chat/Lobby message from bob"))
        }
    }
}

extension BusTest {
    /// A login on `bus`, with its outcome as a result (a `ClusterError` is a value here, not thrown).
    static func tryLogin(_ bus: BusNode, _ name: String) async throws -> (SessionID, Result<LoginOutcome, ClusterError>) {
        let session = bus.newSession()
        let request = try BusNode.request(name, session: session)
        return (session, await outcome { () async throws(ClusterError) in try await bus.bus.login(request) })
    }
}
