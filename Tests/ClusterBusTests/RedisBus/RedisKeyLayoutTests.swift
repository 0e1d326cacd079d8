import ChorusTesting
import ChatDomain
import ClusterBus
import Logging
import NIOCore
@testable import RedisClient
import Testing

/// Issue 8: no room, zone or name, however built, can make one Redis key stand for another;
/// a script that fails writes nothing and is logged; nodes of another key layout refuse to
/// share the Redis. docs/cluster.md ("Keys") is the specification.
@Suite("RedisClusterBus: key layout")
struct RedisKeyLayoutTests {
    static let lobby = BusTest.room("Lobby")

    /// The rooms that no key of the first layout could hold apart, and more: family tags of
    /// both layouts, the prefix, separators, empty and very long parts. The order matters:
    /// `X:m` before `X` was the reported crash (the hash of `X:m` was the member set of `X`).
    static let hostileRooms: [RoomRef] = {
        var rooms: [RoomRef] = []
        for zone in ["Chat", "chorus:", "", "zrooms:Chat", "room:"] {
            for name in ["X:m", "X", "X:members", "members:X", ":m", "m", ":", "chorus:", "chorus:room:X",
                         "room:", "zone:", "s:", "node:", "sessions:", "alive:", "zrooms:", "zusers:",
                         "Chat", "names", "epoch", "seq", "roomcount", "nodes", "ch:zones", "ch:room:X",
                         "Lobby:m", "zone:Chat:rooms", "zone:Chat:users", " ", "\u{1E}", "x\u{1E}m"] {
                rooms.append(RoomRef(zone: zone, name: name))
            }
        }
        rooms.append(RoomRef(zone: "Chat", name: String(repeating: "long:m", count: 2_000)))
        rooms.append(RoomRef(zone: String(repeating: "zone:", count: 2_000), name: "X"))
        rooms.append(RoomRef(zone: "X", name: "m"))
        rooms.append(RoomRef(zone: "X:m", name: ""))
        rooms.append(RoomRef(zone: "Chat:rooms", name: "users"))
        rooms.append(RoomRef(zone: "ch:room:Chat", name: "X"))
        return rooms
    }()

    /// The keys that legitimately remain once every user logged out: the cluster's
    /// bookkeeping, each node's heartbeat, and the permanent rooms.
    static func bookkeeping(_ cluster: BusCluster, permanent: [RoomRef]) -> [String] {
        var keys = ["epoch", "nodes", "roomcount", "seq"]
        keys += cluster.buses.filter { !$0.finished.withLock { $0 } }.map { "alive:\($0.nodeID.rawValue)" }
        for room in permanent { keys += ["room:\(room.zone)\u{1F}\(room.name)", "zrooms:\(room.zone)"] }
        // Rooms that had members keep their recent events (history) while they exist.
        for room in permanent { keys += ["hist:\(room.zone)\u{1F}\(room.name)"] }
        return Array(Set(keys)).sorted()
    }

    @Test func theReportedCrashARoomNamedLikeAnotherRoomsMemberSet() async throws {
        try await BusCluster.with(buses: 2) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            let u1 = try await a.loggedIn("u1")
            let u2 = try await b.loggedIn("u2")
            let xm = try await a.joined(u1, BusTest.room("X:m"), create: RoomOptions())
            #expect(xm.created)
            let x = try await b.joined(u2, BusTest.room("X"), create: RoomOptions())
            #expect(x.created)
            #expect(x.members.map(\.name) == ["u2"])
            // Logins and listings still work, on every bus, and both rooms are whole.
            _ = try await a.loggedIn("u3")
            let listing = try await b.bus.zoneListing("Chat")
            #expect(listing.rooms.map(\.name) == ["X:m", "X"])
            #expect(listing.rooms.map(\.users) == [1, 1])
            #expect(try await cluster.members(of: BusTest.room("X")) == [u2.description])
            #expect(try await cluster.members(of: BusTest.room("X:m")) == [u1.description])
            // u1 leaves: only X:m goes; X stays with its member.
            #expect(try await a.bus.leave(session: u1))
            #expect(try await a.bus.zoneListing("Chat").rooms.map(\.name) == ["X"])
            #expect(try await b.bus.leave(session: u2))
            #expect(try await a.bus.zoneListing("Chat").rooms.isEmpty)
            #expect(try await cluster.raw(["GET", "\(cluster.prefix)roomcount"]).string == "0")
        }
    }

    @Test func hostileRoomsZonesAndNamesCollideWithNoKey() async throws {
        let permanent = [RoomRef(zone: "chorus:", name: "room:"), RoomRef(zone: "Chat", name: "Lobby:m")]
        var rules = ClusterRules(permanentRooms: Dictionary(uniqueKeysWithValues: permanent.map { ($0, RoomOptions(permanent: true)) }))
        rules.maxRooms = Self.hostileRooms.count + permanent.count
        try await BusCluster.with(buses: 3, rules: rules) { cluster in
            let rooms = Self.hostileRooms.filter { !permanent.contains($0) }
            #expect(Set(rooms).count == rooms.count, "the test's rooms are distinct")
            // User names that spell keys (they are only ever fields of the names hash).
            let reserved = ["names", "nodes", "seq", "epoch", "roomcount", "chorus", "room", "s", "members", "alive"]
            var creators: [(BusNode, SessionID)] = []
            for (index, room) in rooms.enumerated() {
                let bus = cluster[index % 3]
                let name = index < reserved.count ? reserved[index] : "c\(index)"
                let session = try await bus.loggedIn(name)
                let created = try await bus.joined(session, room, create: RoomOptions(description: "d\(index)"))
                #expect(created.created, "\(room)")
                #expect(created.members.map(\.name) == [name], "\(room)")
                creators.append((bus, session))
            }
            // A second member for each room, from another bus, and the permanent rooms filled too.
            var joiners: [(BusNode, SessionID)] = []
            for (index, room) in (rooms + permanent).enumerated() {
                let bus = cluster[(index + 1) % 3]
                let session = try await bus.loggedIn("j\(index)")
                let joined = try await bus.joined(session, room)
                #expect(!joined.created)
                #expect(joined.members.count == (permanent.contains(room) ? 1 : 2), "\(room): \(joined.members.map(\.name))")
                joiners.append((bus, session))
            }
            let users = creators.count + joiners.count
            #expect(try await cluster[2].bus.loggedInCount() == users)
            #expect(try await cluster.raw(["GET", "\(cluster.prefix)roomcount"]).string == "\(rooms.count + permanent.count)")

            // Every zone lists exactly its rooms, in creation order, with their counts.
            let all = permanent + rooms
            for zone in Set(all.map(\.zone)) {
                let expected = all.filter { $0.zone == zone }
                let listing = try await cluster[1].bus.zoneListing(zone)
                let permanentNames = Set(permanent.filter { $0.zone == zone }.map(\.name))
                #expect(Set(listing.rooms.map(\.name)) == Set(expected.map(\.name)), "zone \(zone.prefix(20))")
                #expect(listing.rooms.filter { !permanentNames.contains($0.name) }.map(\.name)
                        == expected.filter { !permanentNames.contains($0.name) }.map(\.name), "creation order in \(zone.prefix(20))")
                #expect(listing.rooms.allSatisfy { $0.users == (permanentNames.contains($0.name) ? 1 : 2) }, "zone \(zone.prefix(20))")
                // Every user of the zone is in one of its rooms.
                #expect(listing.users == listing.rooms.map(\.users).reduce(0, +), "zone \(zone.prefix(20))")
            }
            // Logins and private messages still work on every bus.
            for bus in cluster.buses {
                let (late, outcome) = try await bus.login("late \(bus.name)")
                #expect(outcome.acceptedListing != nil)
                await bus.bus.logout(session: late)
            }
            #expect(try await cluster[0].bus.sendPrivate(to: ["names", "epoch", "nobody"].map(UserName.key(for:)), message: ByteBuffer(string: "hi")) == [2])

            // The creators leave: their rooms stay (one member left), and nothing else moves.
            for (bus, session) in creators { #expect(try await bus.bus.leave(session: session)) }
            for room in rooms { #expect(try await cluster.members(of: room).count == 1, "\(room)") }
            for (bus, session) in creators + joiners { await bus.bus.logout(session: session) }

            #expect(try await cluster[0].bus.loggedInCount() == 0)
            #expect(try await cluster.raw(["GET", "\(cluster.prefix)roomcount"]).string == "\(permanent.count)")
            for zone in Set(all.map(\.zone)) {
                let listing = try await cluster[2].bus.zoneListing(zone)
                #expect(listing.users == 0)
                #expect(listing.rooms.map(\.name) == permanent.filter { $0.zone == zone }.map(\.name))
            }
            #expect(try await Self.scan(cluster) == Self.bookkeeping(cluster, permanent: permanent))
        }
    }

    @Test func aZoneOrRoomWithTheSeparatorIsRefusedAndWritesNothing() async throws {
        try await BusCluster.with(buses: 1) { cluster in
            let a = cluster[0]
            let alice = try await a.loggedIn("alice")
            let before = try await Self.scan(cluster)
            for room in [RoomRef(zone: "Chat\u{1F}X", name: "m"), RoomRef(zone: "Chat", name: "X\u{1F}m")] {
                #expect(try await a.create(alice, room).failedReason == .roomNameInvalid)
                #expect(try await a.join(alice, room).failedReason == .roomNameInvalid)
            }
            #expect(try await Self.scan(cluster) == before)
        }
    }

    @Test func aFailingScriptWritesNothingAndIsLoggedAtErrorLevel() async throws {
        try await BusCluster.with(buses: 1, rules: ClusterRules(permanentRooms: [Self.lobby: RoomOptions()])) { cluster in
            let logs = CapturingLogHandler.Store()
            let bus = try RedisClusterBus(nodeID: NodeID.fresh(name: "logged"), url: cluster.redis.url, prefix: cluster.prefix,
                                          rules: cluster.rules, eventLoop: cluster.group.next(),
                                          logger: CapturingLogHandler.logger(logs))
            let sink = BusRecorder()
            try await bus.start(sink: sink)
            let alice = SessionID(node: bus.nodeID, number: 1)
            #expect(try await bus.login(BusNode.request("alice", session: alice)).acceptedListing != nil)
            _ = try await bus.join(JoinRequest(session: alice, room: Self.lobby, password: nil, create: nil))
            // Something else wrote under the prefix: the member set of Arena is a string.
            _ = try await cluster.raw(["SET", "\(cluster.prefix)members:Chat\u{1F}Arena", "junk"])
            let before = try await Self.dump(cluster)
            let arena = JoinRequest(session: alice, room: BusTest.room("Arena"), password: nil, create: RoomOptions())
            let outcome = await BusTest.outcome { () async throws(ClusterError) -> JoinOutcome in try await bus.join(arena) }
            #expect(outcome == .failure(.unavailable))
            #expect(try await Self.dump(cluster) == before, "the failed join wrote nothing")
            #expect(try await cluster.members(of: Self.lobby) == [alice.description], "alice is still in the Lobby")
            let line = logs.all.first { $0.hasPrefix("error ") && $0.contains("Redis script join failed") }
            #expect(line?.contains("WRONGTYPE") == true, "\(logs.all)")
            #expect(line?.contains("script=join") == true, "\(logs.all)")
            #expect(line?.contains("members:Chat\u{1F}Arena") == true, "\(logs.all)")
            // The rest still works.
            #expect(try await bus.zoneListing("Chat").rooms.map(\.name) == ["Lobby"])
            _ = try await bus.join(JoinRequest(session: alice, room: BusTest.room("Other"), password: nil, create: RoomOptions()))
            #expect(try await bus.zoneListing("Chat").rooms.map(\.name) == ["Lobby", "Other"])
            await bus.shutdown()
        }
    }

    @Test func aRedisOfTheSecondLayoutIsRefusedAtStart() async throws {
        try await BusCluster.with(buses: 0) { cluster in
            // Nodes of layout 2 (no variables, bans or publish times) used this Redis.
            _ = try await cluster.raw(["HSET", "\(cluster.prefix)epoch", "id", "older", "layout", "2"])
            let failure = await #expect(throws: RedisCommandError.self) { try await cluster.addBus(name: "new") }
            #expect(failure?.message.contains("Chorus key layout mismatch") == true, "\(String(describing: failure))")
        }
    }

    @Test func aRedisOfTheFirstLayoutIsRefusedAtStart() async throws {
        try await BusCluster.with(buses: 0) { cluster in
            // A node of the first layout registered an epoch string under the same prefix.
            _ = try await cluster.raw(["SET", "\(cluster.prefix)epoch", "old"])
            let failure = await #expect(throws: RedisCommandError.self) { try await cluster.addBus(name: "new") }
            #expect(failure?.message.contains("Chorus key layout mismatch") == true, "\(String(describing: failure))")
        }
    }

    @Test func aNodeOfTheFirstLayoutFailsOnThisLayoutsEpoch() async throws {
        try await BusCluster.with(buses: 1) { (cluster: BusCluster) async throws in
            // The first layout's epoch script, as its nodes run it when they start.
            let old = "redis.call('SET', ARGV[1] .. 'epoch', ARGV[2], 'NX')\nreturn redis.call('GET', ARGV[1] .. 'epoch')"
            await #expect(throws: RedisCommandError.self) {
                _ = try await cluster.raw(["EVAL", old, "0", cluster.prefix, "candidate"])
            }
            #expect(try await cluster.raw(["HGET", "\(cluster.prefix)epoch", "layout"]).string == "3")
        }
    }

    // MARK: Support

    /// Every key under the prefix (without it), by SCAN, sorted.
    static func scan(_ cluster: BusCluster) async throws -> [String] {
        var cursor = "0"
        var keys: Set<String> = []
        repeat {
            let reply = try await cluster.raw(["SCAN", cursor, "MATCH", "\(cluster.prefix)*", "COUNT", "1000"]).array ?? []
            guard reply.count == 2, let next = reply[0].string else { throw BusTestFailure("SCAN replied \(reply)") }
            cursor = next
            for key in reply[1].array ?? [] { if let key = key.string { keys.insert(String(key.dropFirst(cluster.prefix.count))) } }
        } while cursor != "0"
        // The reapers' own bookkeeping comes with their first run (every half second).
        keys.remove("reaper")
        return keys.sorted()
    }

    /// Every key under the prefix with its DUMP (type and value), for "nothing changed".
    static func dump(_ cluster: BusCluster) async throws -> [String: RESPValue] {
        var values: [String: RESPValue] = [:]
        for key in try await scan(cluster) where !key.hasPrefix("alive:") {
            values[key] = try await cluster.raw(["DUMP", "\(cluster.prefix)\(key)"])
        }
        return values
    }
}
