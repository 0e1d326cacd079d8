import ChorusTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Three real `chorus-node` processes on one redis-server behave, for every client, like
/// one node (PROTOCOL.md: "Every rule here holds for the cluster as a whole"), and survive
/// the failures of docs/cluster.md. Clients of one test are spread over the nodes.
///
/// Serialized and gated: each test runs 3 nodes and a redis-server on a small machine, and
/// several measure time bounds.
@Suite("Cluster of three nodes", .serialized, .nodeGate)
struct ClusterTests {
    // MARK: Rooms and users across nodes

    @Test("Room lists and user lists span the nodes, in join order")
    func roomAndUserListsSpanTheNodes() async throws {
        try await NodeCluster.with { cluster in
            let carol = try cluster.loggedIn(2, "carol")
            let alice = try cluster.loggedIn(0, "alice")
            try alice.createRoom("Arena", description: "<wddx/>")

            // A user of node 3 in the zone hears of the room node 1 created.
            let push = try carol.waitFor("UpdateRoomList CreateRoom Arena") {
                $0.action == "UpdateRoomList" && $0.minorAction == "CreateRoom" && $0.rooms.map(\.name) == ["Arena"]
            }
            #expect(push.rooms.first?.roomDescription == "<wddx/>")
            #expect(push.rooms.first?.users == 1)

            // A login on node 2 lists it, with the count of node 1's member.
            let bob = try cluster.client(1, "bob")
            let list = try bob.login("bob")
            #expect(list.rooms.map(\.name) == ["Lobby", "Arena"])
            #expect(list.rooms.map(\.users) == [0, 1])
            #expect(list.zone?.attribute("users") == "3")

            let bobJoin = try bob.joinRoom("Arena")
            #expect(bobJoin.users.map(\.name) == ["alice", "bob"])
            #expect(bobJoin.users.map(\.assignedNumber) == [0, 1])
            #expect(try alice.expect("UpdateUserList", minor: "UserJoined").userName == "bob")

            let carolJoin = try carol.joinRoom("Arena")
            #expect(carolJoin.users.map(\.name) == ["alice", "bob", "carol"])
            #expect(carolJoin.users.map(\.assignedNumber) == [0, 1, 2])
            for member in [alice, bob] {
                #expect(try member.expect("UpdateUserList", minor: "UserJoined").userName == "carol")
            }

            // bob (node 2) leaves: members on nodes 1 and 3 see it.
            try bob.send(Request.leaveRoom)
            try bob.expect("LeaveRoom", result: "Success")
            for member in [alice, carol] {
                #expect(try member.expect("UpdateUserList", minor: "UserLeft").userName == "bob")
            }

            // A later joiner on node 1 gets the remaining members in join order.
            let dave = try cluster.loggedIn(0, "dave")
            let daveJoin = try dave.joinRoom("Arena")
            #expect(daveJoin.users.map(\.name) == ["alice", "carol", "dave"])
            #expect(daveJoin.parameters.child("Room")?.attribute("Users") == "3")
            for member in [alice, carol] {
                #expect(try member.expect("UpdateUserList", minor: "UserJoined").userName == "dave")
            }

            // Counts are cluster-wide on every node.
            var askers: [TestClient] = []  // kept connected: a closed client's session ends at once
            for index in 0..<3 {
                let asker = try cluster.loggedIn(index, "asker\(index)")
                askers.append(asker)
                let rooms = try asker.call(Request.getRoomsInZone("Chat"), "GetRoomsInZone").rooms
                #expect(rooms.map(\.name) == ["Lobby", "Arena"])
                #expect(rooms.map(\.users) == [0, 3], "as seen from node \(index + 1)")
                let count = try asker.call(Request.getLoggedInUserCount, "GetLoggedInUserCount")
                #expect(count.param("LoggedInUsers") == "\(5 + index)")
            }
        }
    }

    @Test("Public messages from senders on three nodes arrive in one order at every member")
    func publicMessagesInOneOrder() async throws {
        try await NodeCluster.with(arguments: ["--flood-rate", "1000", "--flood-burst", "1000"]) { cluster in
            var senders: [TestClient] = []
            var listeners: [TestClient] = []
            for index in 0..<3 {
                senders.append(try cluster.loggedIn(index, "sender\(index + 1)"))
                listeners.append(try cluster.loggedIn(index, "listener\(index + 1)"))
            }
            let members = senders + listeners
            for member in members { try member.joinRoom("Lobby") }
            // Everybody has seen the last join before the first message.
            for member in members.dropLast() { try member.waitForUserListChange("UserJoined", "listener3") }

            let perSender = 30
            let boxes = senders.map(ClusterUnchecked.init)
            DispatchQueue.concurrentPerform(iterations: boxes.count) { index in
                let sender = boxes[index].value
                for k in 0..<perSender {
                    do {
                        try sender.send(Request.publicMessage("s\(index + 1) #\(k)", variables: [("k", "\(k)")]))
                    } catch {
                        Issue.record("\(sender.name) could not send: \(error)")
                        return
                    }
                }
            }

            let total = perSender * senders.count
            var sequences: [[String]] = []
            for member in members {
                let frames = try member.publicMessages(total)
                for frame in frames {
                    #expect(frame.variables.first?.data == frame.message?.split(separator: "#").last.map(String.init))
                }
                sequences.append(frames.map { "\($0.sender ?? "?"): \($0.message ?? "?")" })
            }
            for (member, sequence) in zip(members, sequences).dropFirst() {
                #expect(sequence == sequences[0], "\(member.name) saw another order than \(members[0].name)")
            }
            for index in 0..<senders.count {
                let own = sequences[0].filter { $0.hasPrefix("sender\(index + 1):") }
                #expect(own == (0..<perSender).map { "sender\(index + 1): s\(index + 1) #\($0)" })
            }
            for member in members { try member.expectNothing(within: 0.3) }
        }
    }

    @Test("Private messages reach users on other nodes; unknown names get User not found")
    func privateMessagesAcrossNodes() async throws {
        try await NodeCluster.with { cluster in
            let alice = try cluster.loggedIn(0, "alice")
            let bob = try cluster.loggedIn(1, "Bob")
            let carol = try cluster.loggedIn(2, "carol")
            try carol.joinRoom("Lobby")

            try alice.send(Request.privateMessage(to: ["BOB", "nobody", "carol"], "psst", variables: [("v", "1 & 2")]))
            let notFound = try alice.expectError("User not found", requestAction: "SendPrivateMessage")
            #expect(notFound.param("Detail") == "nobody")
            for recipient in [bob, carol] {
                let frame = try recipient.waitFor("the private message") { $0.action == "SendPrivateMessage" }
                #expect(frame.message == "psst")
                #expect(frame.sender == "alice")
                #expect(frame.variables.map(\.name) == ["v"])
                #expect(frame.variables.map(\.data) == ["1 & 2"])
            }
            try alice.expectNothing(within: 0.3)

            // Back from node 3 to node 1, and to a user who logged out meanwhile.
            try carol.send(Request.privateMessage(to: ["alice"], "back"))
            #expect(try alice.waitFor("reply") { $0.action == "SendPrivateMessage" }.message == "back")
            try bob.send(Request.logout)
            try bob.expect("Logout", result: "Success")
            try bob.expectClosed()
            let gone = try eventuallyBlocking(timeout: 10, every: 0.05) {
                try carol.send(Request.privateMessage(to: ["bob"], "late"))
                let frame = try? carol.waitFor("an answer", timeout: 1) { $0.action == "Error" }
                return frame?.reason == "User not found" && frame?.param("Detail") == "bob"
            }
            #expect(gone)
        }
    }

    @Test("Names are unique across nodes, case-insensitively, and free again at once")
    func namesAreUniqueAcrossNodes() async throws {
        try await NodeCluster.with { cluster in
            let alice = try cluster.loggedIn(0, "Alice")
            try cluster.client(1, "other").expectLoginDenial(as: "alice", reason: "Name is already in use")
            try cluster.client(2, "other").expectLoginDenial(as: "ALICE", reason: "Name is already in use")
            let zoe = try cluster.loggedIn(1, "Zoë")
            try cluster.client(2, "other").expectLoginDenial(as: "ZOE\u{0308}", reason: "Name is already in use")

            alice.close()
            let successor = try cluster.client(2, "successor")
            let freed = try eventuallyBlocking(timeout: 10, every: 0.05) {
                try successor.send(Request.login("aLiCe"))
                let response = try successor.waitFor("LoginResponse") { $0.action == "LoginResponse" }
                return response.result == "Accepted"
            }
            #expect(freed, "alice's name stayed taken after her connection closed")
            #expect(try cluster.nameKeys() == ["alice", "zoë"])
            withExtendedLifetime(zoe) {}

            // The same name at the same moment on three nodes: exactly one is accepted.
            var racers: [TestClient] = []
            for index in 0..<3 { racers.append(try cluster.client(index, "racer")) }
            for racer in racers { try racer.send(Request.login("Racer")) }
            var results: [Frame] = []
            for racer in racers { results.append(try racer.waitFor("LoginResponse") { frame in frame.action == "LoginResponse" }) }
            #expect(results.filter { $0.result == "Accepted" }.count == 1)
            #expect(results.filter { $0.reason == "Name is already in use" }.count == 2)
        }
    }

    @Test("A room created at the same moment on three nodes is created once")
    func concurrentCreatesOnThreeNodes() async throws {
        try await NodeCluster.with { cluster in
            var creators: [TestClient] = []
            for index in 0..<3 { creators.append(try cluster.loggedIn(index, "creator\(index + 1)")) }
            for creator in creators { try creator.send(Request.createRoom("Contested")) }
            var results: [Frame] = []
            for creator in creators { results.append(try creator.waitFor("CreateRoom") { frame in frame.action == "CreateRoom" }) }
            #expect(results.filter { $0.result == "Success" }.count == 1)
            #expect(results.filter { $0.result == "Failure" && $0.reason == "Room already exists" }.count == 2)
            if let index = results.firstIndex(where: { $0.result == "Success" }) {
                let joined = try creators[index].waitFor("JoinRoom") { frame in frame.action == "JoinRoom" }
                #expect(joined.users.map(\.name) == ["creator\(index + 1)"])
            }
        }
    }

    @Test("Join, create and leave failures give their exact reasons; capacity counts members of every node")
    func failuresThroughAMixOfNodes() async throws {
        try await NodeCluster.with(arguments: ["--max-rooms", "3"]) { cluster in
            let alice = try cluster.loggedIn(0, "alice")
            let bob = try cluster.loggedIn(1, "bob")
            let carol = try cluster.loggedIn(2, "carol")
            let dave = try cluster.loggedIn(2, "dave")
            try alice.createRoom("Arena", password: "pw", capacity: 2)

            // (Room-list pushes may come before a response: `refused` skips them.)
            try bob.refused(Request.createRoom("Arena"), "CreateRoom", "Room already exists")
            try bob.refused(Request.joinRoom("Nowhere"), "JoinRoom", "Room does not exist")
            try bob.refused(Request.joinRoom("arena", password: "pw"), "JoinRoom", "Room does not exist")
            try bob.refused(Request.joinRoom("Arena"), "JoinRoom", "Incorrect password")
            try bob.refused(Request.joinRoom("Arena", password: "PW"), "JoinRoom", "Incorrect password")
            let bobJoin = try bob.call(Request.joinRoom("Arena", password: "pw"), "JoinRoom")
            #expect(bobJoin.result == "Success")
            #expect(bobJoin.users.map(\.name) == ["alice", "bob"])

            // Two members on two nodes fill a room of capacity 2 for node 3.
            try carol.refused(Request.joinRoom("Arena", password: "pw"), "JoinRoom", "Room is full")
            try alice.refused(Request.joinRoom("Arena", password: "pw"), "JoinRoom", "Already in room")
            try carol.refused(Request.leaveRoom, "LeaveRoom", "Not in a room")
            try carol.send(Request.publicMessage("hello?"))
            try carol.waitFor("Error Not in a room") { $0.action == "Error" && $0.reason == "Not in a room" }

            // --max-rooms 3 counts the rooms of the cluster: Lobby, Arena, and one more.
            #expect(try dave.call(Request.createRoom("Second"), "CreateRoom").result == "Success")
            try carol.refused(Request.createRoom("Third"), "CreateRoom", "Too many rooms")
            try carol.refused(Request.createRoom("Arena"), "CreateRoom", "Room already exists")

            // bob leaves; now there is space for carol.
            #expect(try bob.call(Request.leaveRoom, "LeaveRoom").result == "Success")
            try alice.waitForUserListChange("UserLeft", "bob")
            let carolJoin = try carol.call(Request.joinRoom("Arena", password: "pw"), "JoinRoom")
            #expect(carolJoin.result == "Success")
            #expect(carolJoin.users.map(\.name) == ["alice", "carol"])
            try alice.waitForUserListChange("UserJoined", "carol")
            // The failures changed nothing: alice's user list saw exactly these changes.
            let changes = alice.history.filter { $0.action == "UpdateUserList" }.map { "\($0.minorAction ?? "") \($0.userName ?? "")" }
            #expect(changes == ["UserJoined bob", "UserLeft bob", "UserJoined carol"])
        }
    }

    // MARK: Failures

    @Test("SIGKILL of a node: its users leave every list within 10 s and their names are free")
    func killedNodesUsersLeave() async throws {
        try await NodeCluster.with { cluster in
            let alice = try cluster.loggedIn(0, "alice")
            let bob = try cluster.loggedIn(1, "bob")
            let carol = try cluster.loggedIn(2, "carol")
            let dave = try cluster.loggedIn(2, "dave")
            for member in [alice, bob, carol, dave] { try member.joinRoom("Lobby") }
            for member in [alice, bob, carol] { try member.waitForUserListChange("UserJoined", "dave") }
            try dave.createRoom("Doomed")
            let deadID = try cluster.nodeID(2)
            #expect(try !cluster.keys(ofNode: deadID).isEmpty)

            let killedAt = Date()
            cluster[2].kill()
            for member in [alice, bob] {
                try member.waitForUserListChange("UserLeft", "carol", timeout: 12)
            }
            let took = Date().timeIntervalSince(killedAt)
            #expect(took < 10, "UserLeft arrived \(took) s after the kill")
            // dave had moved to his own room, which is deleted for the zone's users.
            try alice.waitForOrSeen("UpdateRoomList DeleteRoom Doomed", timeout: 2) {
                $0.action == "UpdateRoomList" && $0.minorAction == "DeleteRoom" && $0.rooms.map(\.name) == ["Doomed"]
            }
            #expect(try cluster.keys(ofNode: deadID) == [])
            #expect(try !cluster.redisCLI(["SMEMBERS", "\(cluster.prefix)nodes"]).contains(deadID))

            // Their names can be used again, on another node.
            let newCarol = try cluster.loggedIn(0, "Carol")
            let newDave = try cluster.loggedIn(1, "DAVE")
            let join = try newCarol.joinRoom("Lobby")
            #expect(join.users.map(\.name) == ["alice", "bob", "Carol"])
            let count = try newDave.call(Request.getLoggedInUserCount, "GetLoggedInUserCount")
            #expect(count.param("LoggedInUsers") == "4")
        }
    }

    @Test("Redis restarted empty: within 10 s the cluster is whole again")
    func redisRestartedEmpty() async throws {
        try await NodeCluster.with { cluster in
            let alice = try cluster.loggedIn(0, "alice")
            let bob = try cluster.loggedIn(1, "bob")
            let carol = try cluster.loggedIn(2, "carol")
            try alice.joinRoom("Lobby")
            try bob.joinRoom("Lobby")
            try alice.waitForUserListChange("UserJoined", "bob")

            await cluster.redis.stop()
            try await cluster.redis.restart()
            let restartedAt = Date()

            // A message from node 1 reaches the member on node 2.
            var probe = 0
            let delivered = try eventuallyBlocking(timeout: 10, every: 0.05) {
                probe += 1
                try alice.send(Request.publicMessage("probe \(probe)"))
                let frames = try bob.collect(for: 0.3)
                return frames.contains { $0.action == "SendPublicMessage" && $0.message?.hasPrefix("probe ") == true }
            }
            #expect(delivered, "no message from node 1 reached node 2 within 10 s of the restart")
            let counted = try eventuallyBlocking(timeout: max(1, 10 - Date().timeIntervalSince(restartedAt))) {
                try carol.loggedInUserCount() == "3"
            }
            #expect(counted, "the logged-in count is not back to 3")
            #expect(Date().timeIntervalSince(restartedAt) < 10)
            #expect(try cluster.nameKeys() == ["alice", "bob", "carol"])

            // Names are still unique: a login with a connected user's name is refused.
            try cluster.client(2, "impostor").expectLoginDenial(as: "ALICE", reason: "Name is already in use")
            try cluster.client(0, "impostor").expectLoginDenial(as: "bob", reason: "Name is already in use")
            // And the room is whole: a user joining now sees both members, who see the joiner.
            let dave = try cluster.loggedIn(2, "dave")
            let join = try dave.joinRoom("Lobby")
            #expect(Set(join.users.map(\.name)) == ["alice", "bob", "dave"])
            try alice.waitForUserListChange("UserJoined", "dave")
            try bob.waitForUserListChange("UserJoined", "dave")
            try dave.send(Request.publicMessage("all here"))
            for member in [alice, bob, dave] {
                try member.waitFor("all here") { $0.action == "SendPublicMessage" && $0.message == "all here" }
            }
        }
    }

    @Test("Redis restarted empty: the join order of a room's members is kept")
    func joinOrderSurvivesAnEmptyRestart() async throws {
        try await NodeCluster.with { cluster in
            let names = ["alice", "bob", "carol", "dave", "eve", "fred"]
            var members: [TestClient] = []
            for (index, name) in names.enumerated() {
                let member = try cluster.loggedIn(index % 3, name)
                let join = try member.joinRoom("Lobby")
                #expect(join.users.map(\.name) == Array(names.prefix(index + 1)))
                members.append(member)
            }
            await cluster.redis.stop()
            try await cluster.redis.restart()
            let whole = try eventuallyBlocking(timeout: 10, every: 0.05) {
                try members[0].loggedInUserCount() == "6"
                    && cluster.redisCLI(["ZCARD", "\(cluster.prefix)members:Chat\u{1F}Lobby"]) == ["6"]
            }
            #expect(whole, "the sessions did not come back within 10 s")
            let late = try cluster.loggedIn(2, "late")
            let join = try late.joinRoom("Lobby")
            #expect(join.users.map(\.name) == names + ["late"],
                    "JoinRoom must list the members in the order they joined (PROTOCOL.md, JoinRoom step 4)")
            #expect(join.users.map(\.assignedNumber) == Array(0...6).map(Optional.some))
        }
    }

    @Test("Redis restarted empty: a room list kept from pushes matches the cluster again")
    func keptRoomListMatchesAfterAnEmptyRestart() async throws {
        try await NodeCluster.with { cluster in
            let watcher = try cluster.loggedIn(2, "watcher")
            let alice = try cluster.loggedIn(0, "alice")
            try alice.joinRoom("Lobby")
            let bob = try cluster.loggedIn(1, "bob")
            try bob.createRoom("Temp")
            let carol = try cluster.loggedIn(1, "carol")
            try carol.createRoom("Kept")
            try watcher.waitFor("UpdateRoomList CreateRoom Kept") {
                $0.action == "UpdateRoomList" && $0.minorAction == "CreateRoom" && $0.rooms.map(\.name) == ["Kept"]
            }

            await cluster.redis.stop()
            bob.close()  // Temp's only member leaves during the outage
            usleep(300_000)
            try await cluster.redis.restart()
            let whole = try eventuallyBlocking(timeout: 10, every: 0.05) { try watcher.loggedInUserCount() == "3" }
            #expect(whole, "the sessions did not come back within 10 s")
            // Pushes may be coalesced for up to 1 s.
            usleep(1_500_000)
            _ = try watcher.drainAvailable()

            var kept: [String: Int] = [:]
            var order: [String] = []
            for frame in watcher.history where frame.action == "RoomList" || frame.action == "UpdateRoomList" {
                switch (frame.action, frame.minorAction) {
                case ("RoomList", _):
                    kept = [:]
                    order = []
                    for room in frame.rooms { kept[room.name] = room.users; order.append(room.name) }
                case (_, "CreateRoom"), (_, "ChangeRoomDetails"):
                    for room in frame.rooms {
                        if kept[room.name] == nil { order.append(room.name) }
                        kept[room.name] = room.users
                    }
                case (_, "DeleteRoom"):
                    for room in frame.rooms { kept[room.name] = nil; order.removeAll { $0 == room.name } }
                default: break
                }
            }
            let truth = try watcher.call(Request.getRoomsInZone("Chat"), "GetRoomsInZone").rooms
            #expect(Set(kept.keys) == Set(truth.map(\.name)),
                    "the watcher's list from pushes: \(kept); the cluster: \(truth.map { "\($0.name)=\($0.users ?? -1)" })")
            for room in truth { #expect(kept[room.name] == room.users, "users of \(room.name)") }
        }
    }

    @Test("A node paused past its heartbeat: members elsewhere see its users leave and, once it is back, come back")
    func pausedNodeTakenForDead() async throws {
        try await NodeCluster.with { cluster in
            let alice = try cluster.loggedIn(0, "alice")
            let carol = try cluster.loggedIn(2, "carol")
            try alice.joinRoom("Lobby")
            try carol.joinRoom("Lobby")
            try alice.waitForUserListChange("UserJoined", "carol")
            let pid = try cluster.pid(2)

            _ = kill(pid, SIGSTOP)
            let left = (try? alice.waitForUserListChange("UserLeft", "carol", timeout: 12)) != nil
            _ = kill(pid, SIGCONT)
            #expect(left, "the paused node was never taken for dead")
            guard left else { return }

            // Node 3 finds it was taken for dead and restores carol. Whatever it does, alice's
            // user list must match the room again: carol joins again, or her session ends.
            var consistent = false
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline, !consistent {
                if let frame = try? alice.waitFor("UserJoined carol", timeout: 0.2, where: {
                    $0.action == "UpdateUserList" && $0.minorAction == "UserJoined" && $0.userName == "carol"
                }) {
                    consistent = frame.userName == "carol"
                }
                if !consistent, (try? carol.collect(for: 0.05)) != nil, carol.closedByPeer { consistent = true }
            }
            let inRoom = try cluster.redisCLI(["ZCARD", "\(cluster.prefix)members:Chat\u{1F}Lobby"])
            #expect(consistent,
                    "after node 3 came back, carol is a member of Lobby in Redis (ZCARD \(inRoom)) and connected, but alice's user list was told she left and never that she is back")
        }
    }

    @Test("During a Redis outage requests get Cluster unavailable and sessions stay connected")
    func duringARedisOutage() async throws {
        try await NodeCluster.with { cluster in
            let alice = try cluster.loggedIn(0, "alice")
            let bob = try cluster.loggedIn(1, "bob")
            let carol = try cluster.loggedIn(2, "carol")
            try alice.joinRoom("Lobby")
            try bob.joinRoom("Lobby")
            try alice.waitForUserListChange("UserJoined", "bob")

            await cluster.redis.stop()
            try cluster.client(1, "newcomer").expectLoginDenial(as: "newcomer", reason: "Cluster unavailable", timeout: 3)
            try alice.send(Request.publicMessage("into the void"))
            try alice.expectError("Cluster unavailable", requestAction: "SendPublicMessage", timeout: 3)
            try bob.send(Request.privateMessage(to: ["carol"], "psst"))
            try bob.expectError("Cluster unavailable", requestAction: "SendPrivateMessage", timeout: 3)
            try carol.send(Request.joinRoom("Lobby"))
            try carol.expect("JoinRoom", result: "Failure", reason: "Cluster unavailable", timeout: 3)
            try carol.send(Request.createRoom("Bunker"))
            try carol.expect("CreateRoom", result: "Failure", reason: "Cluster unavailable", timeout: 3)
            try carol.send(Request.getLoggedInUserCount)
            try carol.expectError("Cluster unavailable", requestAction: "GetLoggedInUserCount", timeout: 3)

            // Still connected, still answered.
            for client in [alice, bob, carol] {
                try client.send(Request.ping)
                try client.expect("Pong", timeout: 3)
            }
            #expect(cluster.nodes.allSatisfy { $0.isRunning })
            try bob.expectNothing(within: 0.3)  // alice's message was not delivered
        }
    }

    @Test("SIGTERM: after its drain the node exits 0 and leaves no trace in Redis")
    func sigtermLeavesNoTrace() async throws {
        try await NodeCluster.with(arguments: ["--drain-seconds", "1"]) { cluster in
            let alice = try cluster.loggedIn(1, "alice")
            let bob = try cluster.loggedIn(1, "bob")
            let idle = try cluster.loggedIn(1, "idle")
            let carol = try cluster.loggedIn(0, "carol")
            let dave = try cluster.loggedIn(2, "dave")
            try alice.joinRoom("Lobby")
            try carol.joinRoom("Lobby")
            try bob.createRoom("Temp")
            let stoppingID = try cluster.nodeID(1)
            let before = try cluster.keys()
            #expect(try cluster.keys(ofNode: stoppingID).count == 5, "alive, sessions, 3 session hashes: \(before)")

            let status = try cluster[1].stop(timeout: 10)
            withExtendedLifetime(idle) {}
            #expect(status == 0, "exit status \(status); log:\n\(cluster[1].logTail())")
            let after = try cluster.keys()
            #expect(try cluster.keys(ofNode: stoppingID) == [], "\(after)")
            #expect(try !cluster.redisCLI(["SMEMBERS", "\(cluster.prefix)nodes"]).contains(stoppingID))
            #expect(try cluster.nameKeys() == ["carol", "dave"])
            try carol.waitForUserListChange("UserLeft", "alice")
            try dave.waitForOrSeen("UpdateRoomList DeleteRoom Temp") {
                $0.action == "UpdateRoomList" && $0.minorAction == "DeleteRoom" && $0.rooms.map(\.name) == ["Temp"]
            }
            let count = try dave.call(Request.getLoggedInUserCount, "GetLoggedInUserCount")
            #expect(count.param("LoggedInUsers") == "2")
            // Its users' names are free on the other nodes.
            _ = try cluster.loggedIn(2, "alice")
        }
    }
}
