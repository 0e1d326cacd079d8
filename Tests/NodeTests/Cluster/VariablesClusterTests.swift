import ChorusTesting
import Foundation
import Testing

/// PROTOCOL.md section 5, room and user variables, over real sockets on three real nodes:
/// every request and its push to the members on every node; locked and persistent
/// semantics, including the creator's node being SIGKILLed; variable changes and public
/// messages from several nodes arriving in one order at every member.
@Suite("Variables across three nodes", .serialized, .nodeGate)
struct VariablesClusterTests {
    static func createRoomVariable(_ name: String, _ data: String, persistent: Bool? = nil, locked: Bool? = nil) -> String {
        let attributes = (persistent.map { " Persistent=\"\($0)\"" } ?? "") + (locked.map { " Locked=\"\($0)\"" } ?? "")
        return Request.envelope("CreateRoomVariable",
                                "<RoomVariable\(attributes)><Name>\(Request.escape(name))</Name><Data>\(Request.escape(data))</Data></RoomVariable>")
    }

    static func updateRoomVariable(_ name: String, _ data: String, locked: Bool? = nil) -> String {
        let attributes = locked.map { " Locked=\"\($0)\"" } ?? ""
        return Request.envelope("UpdateRoomVariable",
                                "<RoomVariable\(attributes)><Name>\(Request.escape(name))</Name><Data>\(Request.escape(data))</Data></RoomVariable>")
    }

    static func deleteRoomVariable(_ name: String) -> String {
        Request.envelope("DeleteRoomVariable", "<RoomVariable><Name>\(Request.escape(name))</Name></RoomVariable>")
    }

    static func updateUserVariable(_ minor: String, _ name: String, _ data: String) -> String {
        Request.envelope("UpdateUserVariable",
                         "<MinorAction>\(minor)</MinorAction><Name>\(Request.escape(name))</Name><Data>\(Request.escape(data))</Data>")
    }

    static func deleteUserVariable(_ name: String) -> String {
        Request.envelope("DeleteUserVariable", "<UserVariable><Name>\(Request.escape(name))</Name></UserVariable>")
    }

    /// A variable push or a public message, as one comparable line; nil for other frames.
    static func line(_ frame: Frame) -> String? {
        switch frame.action {
        case "UpdateRoomVariable":
            guard let variable = frame.parameters.child("RoomVariable") else { return "RV malformed \(frame.raw)" }
            let data = variable.child("Data").map { "=\($0.text)" } ?? ""
            return "RV \(frame.minorAction ?? "") \(variable.child("Name")?.text ?? "")\(data)"
                + " P=\(variable.attribute("Persistent") ?? "?") L=\(variable.attribute("Locked") ?? "?")"
        case "UpdateUserVariable", "DeleteUserVariable":
            guard let variable = frame.parameters.child("UserVariable") else { return "UV malformed \(frame.raw)" }
            let data = variable.child("Data").map { "=\($0.text)" } ?? ""
            let kind = frame.action == "DeleteUserVariable" ? "Delete" : frame.minorAction ?? ""
            return "UV \(kind) \(variable.child("User")?.text ?? "") \(variable.child("Name")?.text ?? "")\(data)"
        case "SendPublicMessage":
            return "M \(frame.sender ?? "") \(frame.message ?? "")"
        default:
            return nil
        }
    }

    /// The next variable push or public message (other frames skipped), as a line.
    static func nextLine(_ client: TestClient, timeout: Double = TestClient.defaultTimeout,
                         sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let frame = try client.waitFor("a variable push or message", timeout: timeout, sourceLocation: sourceLocation) { line($0) != nil }
        return line(frame)!
    }

    static func expectLine(_ expected: String, at members: [TestClient], sourceLocation: SourceLocation = #_sourceLocation) throws {
        for member in members {
            #expect(try nextLine(member, sourceLocation: sourceLocation) == expected, "\(member.name)", sourceLocation: sourceLocation)
        }
    }

    /// `JoinRoom`'s `RoomVariables` as lines like the pushes' (`name=data P= L=`).
    static func roomVariables(_ join: Frame) -> [String] {
        (join.parameters.child("RoomVariables")?.children(named: "RoomVariable") ?? []).map {
            "\($0.child("Name")?.text ?? "")=\($0.child("Data")?.text ?? "") P=\($0.attribute("Persistent") ?? "?") L=\($0.attribute("Locked") ?? "?")"
        }
    }

    /// `JoinRoom`'s user list: each user's name and variables, `name[var=data,...]`.
    static func usersWithVariables(_ join: Frame) -> [String] {
        (join.parameters.child("Users")?.children(named: "User") ?? []).map { user in
            let variables = (user.child("UserVariables")?.children(named: "UserVariable") ?? []).map {
                "\($0.child("Name")?.text ?? "")=\($0.child("Data")?.text ?? "")"
            }
            return "\(user.child("Name")?.text ?? "")[\(variables.joined(separator: ","))]"
        }
    }

    @Test("Every variable request and its push to the members on every node")
    func requestsAndPushesOnEveryNode() async throws {
        try await NodeCluster.with(nodes: 3) { cluster in
            let alice = try cluster.client(0, "alice")
            try alice.send(Request.login("alice", variables: [("mood", "calm")]))
            try alice.expect("RoomList")
            try alice.expect("LoginResponse", result: "Accepted")
            let bob = try cluster.loggedIn(1, "bob")
            let carol = try cluster.loggedIn(2, "carol")
            let members = [alice, bob, carol]
            defer { for client in members { client.close() } }
            try alice.createRoom("Vars")
            for member in [bob, carol] { try member.call(Request.joinRoom("Vars"), "JoinRoom") }
            for member in [alice, bob] { try member.waitForUserListChange("UserJoined", "carol") }

            // Room variables: every member, on every node, the sender included, gets each change.
            try alice.send(Self.createRoomVariable("topic", "cats & <dogs>", persistent: true, locked: true))
            try Self.expectLine("RV Create topic=cats & <dogs> P=true L=true", at: members)
            try bob.send(Self.updateRoomVariable("topic", "mine"))
            try bob.expectError("Variable is locked", requestAction: "UpdateRoomVariable")
            try bob.send(Self.deleteRoomVariable("topic"))
            try bob.expectError("Variable is locked", requestAction: "DeleteRoomVariable")
            try bob.send(Self.createRoomVariable("score", "1"))
            try Self.expectLine("RV Create score=1 P=false L=false", at: members)
            try carol.send(Self.createRoomVariable("score", "2", persistent: true))
            try Self.expectLine("RV Update score=2 P=false L=false", at: members)
            try alice.send(Self.updateRoomVariable("topic", "birds", locked: false))
            try Self.expectLine("RV Update topic=birds P=true L=false", at: members)
            try carol.send(Self.deleteRoomVariable("score"))
            try Self.expectLine("RV Delete score P=false L=false", at: members)
            try carol.send(Self.deleteRoomVariable("score"))
            try carol.expectError("Variable does not exist", requestAction: "DeleteRoomVariable")
            try carol.send(Self.updateRoomVariable("nothing", "x"))
            try carol.expectError("Variable does not exist", requestAction: "UpdateRoomVariable")
            try carol.send(Self.createRoomVariable("", "x"))
            try carol.expectError("Variable name is required", requestAction: "CreateRoomVariable")
            try carol.send(Self.createRoomVariable(String(repeating: "n", count: 33), "x"))
            try carol.expectError("Variable name is invalid", requestAction: "CreateRoomVariable")
            try carol.send(Self.createRoomVariable("big", String(repeating: "x", count: 4097)))
            try carol.expectError("Variable is too large", requestAction: "CreateRoomVariable")

            // User variables: pushed to the user's room on every node; login ones are listed.
            try bob.send(Self.updateUserVariable("Create", "avatar", "cat.png"))
            try Self.expectLine("UV Create bob avatar=cat.png", at: members)
            try bob.send(Self.updateUserVariable("Create", "avatar", "dog.png"))
            try Self.expectLine("UV Update bob avatar=dog.png", at: members)
            try alice.send(Self.updateUserVariable("Update", "mood", "glad"))
            try Self.expectLine("UV Update alice mood=glad", at: members)
            try carol.send(Self.updateUserVariable("Create", "x", "1"))
            try Self.expectLine("UV Create carol x=1", at: members)
            try carol.send(Self.deleteUserVariable("x"))
            try Self.expectLine("UV Delete carol x", at: members)
            try carol.send(Self.deleteUserVariable("x"))
            try carol.expectError("Variable does not exist", requestAction: "DeleteUserVariable")

            // A user in no room: its own pushes only, and Not in a room for room variables.
            let dave = try cluster.loggedIn(1, "dave")
            defer { dave.close() }
            try dave.send(Self.createRoomVariable("topic", "x"))
            try dave.expectError("Not in a room", requestAction: "CreateRoomVariable")
            try dave.send(Self.updateUserVariable("Update", "status", "away"))
            #expect(try Self.nextLine(dave) == "UV Create dave status=away")
            for member in members { try member.expectNothing(within: 0.3) }

            // A later join lists the room's variables and every member's variables, and
            // the others see the newcomer's variables.
            let join = try dave.call(Request.joinRoom("Vars"), "JoinRoom")
            #expect(Self.roomVariables(join) == ["topic=birds P=true L=false"])
            #expect(Self.usersWithVariables(join) == ["alice[mood=glad]", "bob[avatar=dog.png]", "carol[]", "dave[status=away]"])
            for member in members {
                let joined = try member.waitForUserListChange("UserJoined", "dave")
                #expect(joined.raw.contains("<UserVariables><UserVariable><Name>status</Name><Data>away</Data></UserVariable></UserVariables>"),
                        "\(joined.raw)")
            }
        }
    }

    @Test("CreateRoom's initial variables are listed to members on every node and belong to the creator")
    func createRoomsInitialVariables() async throws {
        try await NodeCluster.with(nodes: 2) { cluster in
            let alice = try cluster.loggedIn(0, "alice")
            let bob = try cluster.loggedIn(1, "bob")
            defer { for client in [alice, bob] { client.close() } }
            let room = #"<Room><Name>Initial</Name><RoomVariables>"#
                + #"<RoomVariable Persistent="true" Locked="true"><Name>topic</Name><Data>cats</Data></RoomVariable>"#
                + #"<RoomVariable><Name>temp</Name><Data>x</Data></RoomVariable></RoomVariables></Room>"#
            try alice.send(Request.envelope("CreateRoom", "<Zone><Name></Name>\(room)</Zone>"))
            try alice.expect("CreateRoom", result: "Success")
            let created = try alice.waitFor("JoinRoom") { $0.action == "JoinRoom" }
            #expect(Self.roomVariables(created) == ["topic=cats P=true L=true", "temp=x P=false L=false"])
            let joined = try bob.call(Request.joinRoom("Initial"), "JoinRoom")
            #expect(Self.roomVariables(joined) == ["topic=cats P=true L=true", "temp=x P=false L=false"])
            try bob.send(Self.updateRoomVariable("topic", "dogs"))
            try bob.expectError("Variable is locked", requestAction: "UpdateRoomVariable")
            try alice.waitForUserListChange("UserJoined", "bob")
            try alice.send(Self.updateRoomVariable("topic", "dogs", locked: true))
            try Self.expectLine("RV Update topic=dogs P=true L=true", at: [alice, bob])

            let tooMany = (0...32).map { "<RoomVariable><Name>v\($0)</Name><Data></Data></RoomVariable>" }.joined()
            try bob.send(Request.envelope("CreateRoom", "<Zone><Name></Name><Room><Name>Big</Name><RoomVariables>\(tooMany)</RoomVariables></Room></Zone>"))
            try bob.waitFor("CreateRoom Failure") { $0.action == "CreateRoom" && $0.result == "Failure" && $0.reason == "Too many variables" }
        }
    }

    @Test("Non-persistent variables go with their creator, also when its node is SIGKILLed; persistent and locked ones stay")
    func nonPersistentVariablesGoWithTheirCreator() async throws {
        try await NodeCluster.with(nodes: 3) { cluster in
            let alice = try cluster.loggedIn(0, "alice")
            let bob = try cluster.loggedIn(1, "bob")
            let carol = try cluster.loggedIn(2, "carol")
            defer { for client in [alice, bob, carol] { client.close() } }
            try alice.createRoom("Keep")
            for member in [bob, carol] { try member.call(Request.joinRoom("Keep"), "JoinRoom") }
            for member in [alice, bob] { try member.waitForUserListChange("UserJoined", "carol") }
            let members = [alice, bob, carol]

            try carol.send(Self.createRoomVariable("temp", "t", locked: true))
            try Self.expectLine("RV Create temp=t P=false L=true", at: members)
            try carol.send(Self.createRoomVariable("perm", "p", persistent: true, locked: true))
            try Self.expectLine("RV Create perm=p P=true L=true", at: members)
            try alice.send(Self.createRoomVariable("mine", "m"))
            try Self.expectLine("RV Create mine=m P=false L=false", at: members)
            try bob.send(Self.updateRoomVariable("mine", "bob's"))
            try Self.expectLine("RV Update mine=bob's P=false L=false", at: members)

            // Alice leaves: her non-persistent variable is deleted before her UserLeft.
            try alice.call(Request.leaveRoom, "LeaveRoom")
            for member in [bob, carol] {
                #expect(try Self.nextLine(member) == "RV Delete mine P=false L=false")
                try member.expect("UpdateUserList", minor: "UserLeft")
            }

            // Carol's node dies: once it is reaped, her non-persistent variable is gone too.
            let killedAt = Date()
            cluster[2].kill()
            #expect(try Self.nextLine(bob, timeout: 12) == "RV Delete temp P=false L=true")
            try bob.expect("UpdateUserList", minor: "UserLeft", timeout: 12)
            #expect(Date().timeIntervalSince(killedAt) < 10)

            // What is left: the persistent one, still locked (only a moderator could change it now).
            let join = try alice.call(Request.joinRoom("Keep"), "JoinRoom")
            #expect(Self.roomVariables(join) == ["perm=p P=true L=true"])
            try bob.waitForUserListChange("UserJoined", "alice")
            try bob.send(Self.updateRoomVariable("perm", "x"))
            try bob.expectError("Variable is locked", requestAction: "UpdateRoomVariable")
            let dave = try cluster.loggedIn(1, "dave")
            defer { dave.close() }
            #expect(Self.roomVariables(try dave.call(Request.joinRoom("Keep"), "JoinRoom")) == ["perm=p P=true L=true"])
        }
    }

    @Test("Variable changes and public messages from three nodes arrive in one order at every member")
    func oneOrderForVariablesAndMessages() async throws {
        try await NodeCluster.with(nodes: 3, arguments: ["--flood-rate", "1000", "--flood-burst", "1000"]) { cluster in
            let alice = try cluster.loggedIn(0, "alice")
            let bob = try cluster.loggedIn(1, "bob")
            let carol = try cluster.loggedIn(2, "carol")
            let dave = try cluster.loggedIn(2, "dave")
            let members = [alice, bob, carol, dave]
            defer { for client in members { client.close() } }
            try alice.createRoom("Race")
            for member in [bob, carol, dave] { try member.call(Request.joinRoom("Race"), "JoinRoom") }
            for member in [alice, bob, carol] { try member.waitForUserListChange("UserJoined", "dave") }
            try alice.send(Self.createRoomVariable("counter", "0"))
            try Self.expectLine("RV Create counter=0 P=false L=false", at: members)

            let rounds = 40
            for round in 0..<rounds {
                try alice.send(Self.updateRoomVariable("counter", "a\(round)"))
                try bob.send(Request.publicMessage("b\(round)"))
                try carol.send(Self.updateUserVariable("Update", "step", "c\(round)"))
                try dave.send(Self.updateRoomVariable("counter", "d\(round)"))
                try dave.send(Request.publicMessage("d\(round)"))
            }
            var sequences: [[String]] = []
            for member in members {
                var lines: [String] = []
                for _ in 0..<(rounds * 5) { lines.append(try Self.nextLine(member)) }
                sequences.append(lines)
            }
            for (member, lines) in zip(members.dropFirst(), sequences.dropFirst()) {
                #expect(lines == sequences[0], "\(member.name) saw another order than alice")
            }
            // Each sender's own changes keep their order within the one order.
            let aliceCounter = sequences[0].filter { $0.hasPrefix("RV Update counter=a") }
            #expect(aliceCounter == (0..<rounds).map { "RV Update counter=a\($0) P=false L=false" })
            let carolSteps = sequences[0].filter { $0.hasPrefix("UV") }
            #expect(carolSteps == (0..<rounds).map { "UV \($0 == 0 ? "Create" : "Update") carol step=c\($0)" })
            // The last counter value is the one a newcomer sees.
            let last = sequences[0].last { $0.hasPrefix("RV Update counter=") }!
            let eve = try cluster.loggedIn(0, "eve")
            defer { eve.close() }
            let join = try eve.call(Request.joinRoom("Race"), "JoinRoom")
            #expect(Self.roomVariables(join).map { "RV Update " + $0 } == [last])
        }
    }
}
