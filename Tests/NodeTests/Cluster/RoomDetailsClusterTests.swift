import ChorusTesting
import Foundation
import Testing

/// PROTOCOL.md section 5, ChangeRoomDetails, over real sockets on three real nodes (and on
/// one node without Redis): the creator on node 1 and a moderator on node 3 change a room
/// whose members and onlookers are spread over the nodes; every user of the zone, on every node, gets each change; a
/// room becoming hidden is deleted from lists and one becoming visible created; a capacity
/// below the member count keeps the members; a new password holds for later joins only and
/// never reaches a client.
@Suite("ChangeRoomDetails on real nodes", .serialized, .nodeGate)
struct RoomDetailsClusterTests {
    static let roomPassword = "r00m-Pa55word"
    static let moderatorPassword = "m0d-Pa55word"

    static func arguments() throws -> [String] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-moderators-\(UUID().uuidString)")
        try "Mod:\(moderatorPassword)\n".write(to: file, atomically: true, encoding: .utf8)
        return ["--moderators", file.path]
    }

    static func change(_ minor: String, _ elements: String) -> String {
        Request.envelope("ChangeRoomDetails", "<MinorAction>\(minor)</MinorAction>\(elements)")
    }

    /// The next frame that is not a push (room and user list updates, public messages),
    /// which must be `action` with `result` and `reason` (for `Error`: the reason and
    /// `RequestAction` `ChangeRoomDetails`). Pushes are checked with `push`, from `history`.
    @discardableResult
    static func answer(_ client: TestClient, _ action: String, result: String? = nil, reason: String? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) throws -> Frame {
        let pushes: Set<String> = ["UpdateRoomList", "UpdateUserList", "SendPublicMessage"]
        while true {
            let frame = try client.next(sourceLocation: sourceLocation)
            if pushes.contains(frame.action) { continue }
            guard frame.action == action, result == nil || frame.result == result, reason == nil || frame.reason == reason,
                  action != "Error" || frame.param("RequestAction") == "ChangeRoomDetails" else {
                throw TestFailure("\(client.name): expected \(action) \(result ?? "") \(reason ?? ""), got: \(frame.raw)")
            }
            return frame
        }
    }

    static func join(_ client: TestClient, password: String = "", sourceLocation: SourceLocation = #_sourceLocation) throws {
        try client.send(Request.joinRoom("Arena", password: password))
        try answer(client, "JoinRoom", result: "Success", sourceLocation: sourceLocation)
    }

    /// Waits for the `UpdateRoomList` `minor` push of room Arena that satisfies `check`.
    @discardableResult
    static func push(_ client: TestClient, _ minor: String, sourceLocation: SourceLocation = #_sourceLocation,
                     _ check: @escaping (RoomInfo) -> Bool = { _ in true }) throws -> RoomInfo {
        let matches: (Frame) -> Bool = {
            $0.action == "UpdateRoomList" && $0.minorAction == minor && $0.rooms.first.map { $0.name == "Arena" && check($0) } == true
        }
        if let seen = client.history.last(where: matches) { return seen.rooms[0] }
        return try client.waitFor("\(client.name): UpdateRoomList \(minor) of Arena", sourceLocation: sourceLocation, where: matches).rooms[0]
    }

    static func listed(_ client: TestClient, sourceLocation: SourceLocation = #_sourceLocation) throws -> [RoomInfo] {
        try client.send(Request.getRoomsInZone("Chat"))
        return try client.waitFor("GetRoomsInZone", sourceLocation: sourceLocation) { $0.action == "GetRoomsInZone" }.rooms
    }

    @Test("Changes by the creator and a moderator reach every user of the zone on every node; passwords reach nobody")
    func changesAcrossNodes() async throws {
        try await NodeCluster.with(nodes: 3, arguments: Self.arguments()) { cluster in
            try await Self.scenario { index, name in try cluster.client(index, name) }
        }
    }

    @Test("The same on one node without Redis (the in-process bus)")
    func changesOnOneNode() async throws {
        let node = try NodeProcess.start(Self.arguments())
        try await Self.scenario { _, name in try TestClient(node, name: name) }
    }

    /// The whole story, with clients made by `connect(node index, name)` (past
    /// `ConnectionResponse`): alice on node 1, bob and dave on node 2, carol and Mod on node 3.
    static func scenario(_ connect: (Int, String) throws -> TestClient) async throws {
        do {
            var everyone: [TestClient] = []
            defer { for client in everyone { client.close() } }
            func loggedIn(_ index: Int, _ name: String) throws -> TestClient {
                let client = try connect(index, name)
                everyone.append(client)
                try client.login(name)
                return client
            }
            let alice = try loggedIn(0, "alice")
            let bob = try loggedIn(1, "bob")
            let carol = try loggedIn(2, "carol")
            let dave = try loggedIn(1, "dave")
            let mod = try connect(2, "Mod")
            everyone.append(mod)
            try mod.send(Request.envelope("AdminLogin", "<Name>Mod</Name><Password>\(Self.moderatorPassword)</Password>"))
            try mod.waitFor("LoginResponse") { $0.action == "LoginResponse" && $0.result == "Accepted" }
            try alice.createRoom("Arena", description: "old")
            try Self.join(bob)
            let zone = [alice, bob, carol, dave, mod]

            // Someone who did not create the room: Not allowed, and nothing changes.
            try bob.send(Self.change("ChangeDescription", "<Description>bob's</Description>"))
            try Self.answer(bob, "Error", reason: "Not allowed")
            try carol.send(Self.change("ChangeDescription", "<Description>x</Description>"))
            try Self.answer(carol, "ChangeRoomDetails", result: "Failure", reason: "Not in a room")

            // The creator (node 1) changes the description: everyone in the zone, on every node.
            try alice.send(Self.change("ChangeDescription", "<Description>new &lt;b&gt; &amp; more</Description>"))
            try Self.answer(alice, "ChangeRoomDetails", result: "Success")
            for client in zone { try Self.push(client, "ChangeRoomDetails") { $0.roomDescription == "new <b> & more" } }
            let tooLong = String(repeating: "d", count: 1025)
            try alice.send(Self.change("ChangeDescription", "<Description>\(tooLong)</Description>"))
            try Self.answer(alice, "ChangeRoomDetails", result: "Failure", reason: "Description is too long")

            // A capacity below the member count: both stay, joins are refused until there is room.
            try alice.send(Self.change("ChangeCapacity", "<Capacity>1</Capacity>"))
            try Self.answer(alice, "ChangeRoomDetails", result: "Success")
            for client in zone { try Self.push(client, "ChangeRoomDetails") { $0.capacity == 1 && $0.users == 2 } }
            try carol.send(Request.joinRoom("Arena"))
            try Self.answer(carol, "JoinRoom", result: "Failure", reason: "Room is full")
            try alice.send(Request.publicMessage("still here?"))
            try bob.waitFor("alice's message") { $0.action == "SendPublicMessage" && $0.message == "still here?" }
            try bob.send(Request.leaveRoom)
            try Self.answer(bob, "LeaveRoom", result: "Success")
            try carol.send(Request.joinRoom("Arena"))
            try Self.answer(carol, "JoinRoom", result: "Failure", reason: "Room is full")
            try alice.send(Self.change("ChangeCapacity", "<Capacity>-1</Capacity>"))
            try Self.answer(alice, "ChangeRoomDetails", result: "Success")
            try Self.push(carol, "ChangeRoomDetails") { $0.capacity == -1 && $0.users == 1 && $0.roomDescription == "new <b> & more" }
            try Self.join(carol)

            // A password: carol (a member) stays; later joins need it.
            try alice.send(Self.change("ChangePasswordProtected", "<IsProtected>true</IsProtected><Password>\(Self.roomPassword)</Password>"))
            try Self.answer(alice, "ChangeRoomDetails", result: "Success")
            for client in zone { try Self.push(client, "ChangeRoomDetails") { $0.passwordProtected == "true" } }
            try dave.send(Request.joinRoom("Arena"))
            try Self.answer(dave, "JoinRoom", result: "Failure", reason: "Incorrect password")
            try alice.send(Request.publicMessage("carol stays"))
            try carol.waitFor("alice's message") { $0.action == "SendPublicMessage" && $0.message == "carol stays" }
            try Self.join(dave, password: Self.roomPassword)

            // Hidden: deleted from every list; visible again: created.
            try alice.send(Self.change("ChangeVisibility", "<Hidden>true</Hidden>"))
            try Self.answer(alice, "ChangeRoomDetails", result: "Success")
            for client in zone { try Self.push(client, "DeleteRoom") }
            #expect(try !Self.listed(bob).map(\.name).contains("Arena"))
            try alice.send(Self.change("ChangeDescription", "<Description>in hiding</Description>"))
            try Self.answer(alice, "ChangeRoomDetails", result: "Success")
            try alice.send(Self.change("ChangeVisibility", "<Hidden>false</Hidden>"))
            try Self.answer(alice, "ChangeRoomDetails", result: "Success")
            for client in zone {
                try Self.push(client, "CreateRoom") { $0.roomDescription == "in hiding" && $0.users == 3 && $0.passwordProtected == "true" }
            }
            #expect(try Self.listed(bob).map(\.name).contains("Arena"))

            // Not updatable: the creator can no longer change it; a moderator (node 3) can.
            try alice.send(Self.change("ChangeUpdatable", "<Updatable>false</Updatable>"))
            try Self.answer(alice, "ChangeRoomDetails", result: "Success")
            for client in zone { try Self.push(client, "ChangeRoomDetails") { $0.updatable == "false" } }
            try alice.send(Self.change("ChangeDescription", "<Description>mine</Description>"))
            try Self.answer(alice, "Error", reason: "Not allowed")
            try Self.join(mod, password: Self.roomPassword)
            try mod.send(Self.change("ChangeDescription", "<Description>by the moderator</Description>"))
            try Self.answer(mod, "ChangeRoomDetails", result: "Success")
            for client in zone { try Self.push(client, "ChangeRoomDetails") { $0.roomDescription == "by the moderator" } }
            // Removing the password: later joins need none.
            try mod.send(Self.change("ChangePasswordProtected", "<IsProtected>false</IsProtected>"))
            try Self.answer(mod, "ChangeRoomDetails", result: "Success")
            for client in zone { try Self.push(client, "ChangeRoomDetails") { $0.passwordProtected == "false" && $0.roomDescription == "by the moderator" } }
            try Self.join(bob)

            // No password reached any client, in any frame.
            try await Task.sleep(for: .milliseconds(300))
            for client in everyone {
                _ = try client.drainAvailable()
                for frame in client.history {
                    for secret in [Self.roomPassword, Self.moderatorPassword] {
                        #expect(!frame.raw.contains(secret), "\(client.name) received a password: \(frame.raw)")
                    }
                }
            }
        }
    }
}
