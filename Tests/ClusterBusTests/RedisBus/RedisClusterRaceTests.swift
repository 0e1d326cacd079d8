import ChatDomain
import ClusterBus
import NIOCore
import Testing

/// Operations racing each other from several buses: the Lua scripts make each atomic, so
/// exactly one of the competitors wins.
@Suite("RedisClusterBus: races between buses")
struct RedisClusterRaceTests {
    @Test func fiftyConcurrentLoginsOfOneNameOverThreeBusesAcceptExactlyOne() async throws {
        try await BusCluster.with(buses: 3) { cluster in
            let buses = cluster.buses
            // Spellings differ only in letter case: one name for the cluster.
            let spellings = ["duel", "Duel", "DUEL", "dUeL", "duEL"]
            let outcomes = try await withThrowingTaskGroup(of: (SessionID, LoginOutcome).self) { group in
                for index in 0..<50 {
                    let bus = buses[index % buses.count]
                    let name = spellings[index % spellings.count]
                    group.addTask { try await bus.login(name) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let accepted = outcomes.filter { $0.1.acceptedListing != nil }
            #expect(accepted.count == 1, "\(accepted.count) logins accepted")
            #expect(outcomes.filter { $0.1 == .nameInUse }.count == 49)
            #expect(try await cluster.names() == ["duel": accepted.first?.0.description ?? "?"])
            #expect(try await buses[0].bus.loggedInCount() == 1)
            #expect(try await buses[1].bus.zoneListing("Chat").users == 1)
            #expect(try await cluster.keys().filter { $0.hasPrefix("s:") } == accepted.map { "s:\($0.0)" })
        }
    }

    @Test func twentyConcurrentCreatesOfOneRoomOverThreeBusesCreateItOnce() async throws {
        try await BusCluster.with(buses: 3) { cluster in
            let buses = cluster.buses
            var users: [(BusNode, SessionID)] = []
            for index in 0..<20 {
                let bus = buses[index % buses.count]
                users.append((bus, try await bus.loggedIn("creator\(index)")))
            }
            let room = BusTest.room("Contested")
            let outcomes = try await withThrowingTaskGroup(of: (SessionID, JoinOutcome).self) { group in
                for (bus, session) in users {
                    group.addTask { (session, try await bus.create(session, room, RoomOptions(capacity: 50, description: "d"))) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let winners = outcomes.filter { $0.1.joinedRoom?.created == true }
            #expect(winners.count == 1)
            #expect(outcomes.filter { $0.1.failedReason == .roomExists }.count == 19,
                    "\(outcomes.map(\.1).filter { $0.failedReason != .roomExists })")
            #expect(try await cluster.members(of: room) == winners.map(\.0.description))
            #expect(try await cluster.raw(["GET", "\(cluster.prefix)roomcount"]).string == "1")
            // Every bus heard of the room being created exactly once.
            for bus in buses {
                #expect(await bus.sink.waitFor { $0.contains { $0.hasPrefix("zone created Chat/Contested") } })
                #expect(bus.sink.lines.filter { $0.hasPrefix("zone created") }.count == 1, "\(bus.name): \(bus.sink.lines)")
            }
            #expect(try await buses[2].bus.zoneListing("Chat").rooms.map(\.name) == ["Contested"])
        }
    }

    @Test func concurrentJoinsNeverOverfillARoom() async throws {
        try await BusCluster.with(buses: 3) { cluster in
            let buses = cluster.buses
            let room = BusTest.room("Small")
            let owner = try await buses[0].loggedIn("owner")
            try await buses[0].joined(owner, room, create: RoomOptions(capacity: 4))
            var users: [(BusNode, SessionID)] = []
            for index in 0..<15 {
                let bus = buses[index % buses.count]
                users.append((bus, try await bus.loggedIn("joiner\(index)")))
            }
            let outcomes = try await withThrowingTaskGroup(of: JoinOutcome.self) { group in
                for (bus, session) in users { group.addTask { try await bus.join(session, room) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0.joinedRoom != nil }.count == 3)
            #expect(outcomes.filter { $0.failedReason == .roomFull }.count == 12)
            #expect(try await cluster.members(of: room).count == 4)
            #expect(try await buses[1].bus.zoneListing("Chat").rooms.first?.users == 4)
        }
    }

    @Test func aLogoutRacingALoginOfTheSameNameLeavesAConsistentState() async throws {
        try await BusCluster.with(buses: 2) { cluster in
            let (a, b) = (cluster[0], cluster[1])
            for round in 0..<20 {
                let name = "swap\(round)"
                let first = try await a.loggedIn(name)
                async let logout: Void = a.bus.logout(session: first)
                async let login = b.login(name)
                await logout
                let (second, outcome) = try await login
                // Redis holds names by key: "swap0" is "swapo" (the skeleton takes 0 for O).
                let key = UserName.key(for: name)
                let names = try await cluster.names()
                if outcome.acceptedListing != nil {
                    #expect(names[key] == second.description, "round \(round)")
                } else {
                    #expect(names[key] == nil, "round \(round): the name stayed taken after the logout")
                    #expect(try await b.login(name).1.acceptedListing != nil, "round \(round)")
                }
            }
            #expect(try await cluster.keys().filter { $0.hasPrefix("s:\(a.nodeID.rawValue)/") }.isEmpty)
            #expect(try await a.bus.loggedInCount() == 20)
        }
    }
}
