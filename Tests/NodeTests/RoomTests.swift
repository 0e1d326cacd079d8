import ChorusTesting
import Foundation
import Testing
import Wire

/// PROTOCOL.md section 4: CreateRoom, JoinRoom, LeaveRoom, UpdateUserList, UpdateRoomList.
@Suite("Rooms", .nodeGate)
struct RoomTests {
    @Test("CreateRoom: Success, UpdateRoomList CreateRoom, JoinRoom; a second user joins with both users in join order")
    func createAndJoin() throws {
        let node = try NodeProcess.start()
        let alice = try TestClient(node, name: "Alice")
        try alice.login("Alice")
        let bob = try TestClient(node, name: "Bob")
        try bob.login("Bob")

        try alice.send(Request.createRoom("Kitchen", description: "<wddxPacket version='1.0'>&amp;</wddxPacket>"))
        let created = try alice.expect("CreateRoom", result: "Success")
        #expect(created.raw == "<XmlDoc><Action>CreateRoom</Action><Parameters><Result>Success</Result></Parameters></XmlDoc>")
        let push = try alice.expect("UpdateRoomList", minor: "CreateRoom")
        #expect(push.zone?.attribute("users") == "2")
        #expect(push.rooms.map(\.name) == ["Kitchen"])
        #expect(push.rooms.first?.users == 1)
        #expect(push.rooms.first?.attributeNames == ["Users", "Capacity", "PasswordProtected", "Updatable"])
        let aliceJoin = try alice.expect("JoinRoom", result: "Success")
        let room = try #require(aliceJoin.parameters.child("Room"))
        #expect(room.attributes.map(\.name) == ["Users", "Capacity", "PasswordProtected", "Hidden"])
        #expect(room.attribute("Users") == "1")
        #expect(room.attribute("Capacity") == "-1")
        #expect(room.attribute("PasswordProtected") == "false")
        #expect(room.attribute("Hidden") == "false")
        #expect(room.child("Name")?.text == "Kitchen")
        // Description comes back exactly as given.
        #expect(room.child("Description")?.text == "<wddxPacket version='1.0'>&amp;</wddxPacket>")
        #expect(aliceJoin.parameters.children.map(\.name) == ["Result", "Room", "RoomVariables", "Users"])
        #expect(aliceJoin.users == [user("Alice", 0)])

        // Bob, in the zone, sees the room appear.
        let bobPush = try bob.expect("UpdateRoomList", minor: "CreateRoom")
        #expect(bobPush.rooms.map(\.name) == ["Kitchen"])
        #expect(bobPush.rooms.first?.roomDescription == "<wddxPacket version='1.0'>&amp;</wddxPacket>")

        try bob.send(Request.joinRoom("Kitchen"))
        let bobJoin = try bob.expect("JoinRoom", result: "Success")
        #expect(bobJoin.parameters.child("Room")?.attribute("Users") == "2")
        #expect(bobJoin.users == [user("Alice", 0), user("Bob", 1)])
        let bobUser = try #require(bobJoin.parameters.child("Users")?.children.last)
        #expect(bobUser.children.map(\.name) == ["Name", "UserVariables", "AssignedNumber"])

        let joined = try alice.expect("UpdateUserList", minor: "UserJoined")
        #expect(joined.raw == "<XmlDoc><Action>UpdateUserList</Action><Parameters><MinorAction>UserJoined</MinorAction><User><Name>Bob</Name><UserVariables/></User></Parameters></XmlDoc>")
        try alice.expectNothing()
        try bob.expectNothing()
    }

    @Test("A third member gets AssignedNumber 2; after the first leaves, a newcomer sees the remaining order")
    func joinOrder() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby"])
        let clients = try ["U1", "U2", "U3"].map { name in
            let client = try TestClient(node, name: name)
            try client.login(name)
            return client
        }
        for (index, client) in clients.enumerated() {
            let join = try client.joinRoom("Lobby")
            #expect(join.users.map(\.name) == Array(["U1", "U2", "U3"].prefix(index + 1)))
            #expect(join.users.map(\.assignedNumber) == Array(0...index).map { Optional($0) })
        }
        let left = try clients[0].call(Request.leaveRoom, "LeaveRoom")
        #expect(left.result == "Success")
        let newcomer = try TestClient(node, name: "U4")
        try newcomer.login("U4")
        let join = try newcomer.joinRoom("Lobby")
        #expect(join.users.map(\.name) == ["U2", "U3", "U4"])
        #expect(join.users.map(\.assignedNumber) == [0, 1, 2])
    }

    @Test("Leaving: UserLeft to the remaining members, LeaveRoom Success, then Failure Not in a room; empty room deleted")
    func leaveRoom() throws {
        let node = try NodeProcess.start()
        let observer = try TestClient(node, name: "observer")
        try observer.login("Observer")
        let alice = try TestClient(node, name: "Alice")
        try alice.login("Alice")
        let bob = try TestClient(node, name: "Bob")
        try bob.login("Bob")

        try alice.createRoom("Porch")
        try observer.expect("UpdateRoomList", minor: "CreateRoom")
        try bob.expect("UpdateRoomList", minor: "CreateRoom")
        try bob.joinRoom("Porch")
        try alice.expect("UpdateUserList", minor: "UserJoined")

        try bob.send(Request.leaveRoom)
        let left = try bob.expect("LeaveRoom", result: "Success")
        #expect(left.raw == "<XmlDoc><Action>LeaveRoom</Action><Parameters><Result>Success</Result></Parameters></XmlDoc>")
        let userLeft = try alice.expect("UpdateUserList", minor: "UserLeft")
        #expect(userLeft.raw == "<XmlDoc><Action>UpdateUserList</Action><Parameters><MinorAction>UserLeft</MinorAction><User><Name>Bob</Name><UserVariables/></User></Parameters></XmlDoc>")

        try bob.send(Request.leaveRoom)
        let notIn = try bob.expect("LeaveRoom", result: "Failure", reason: "Not in a room")
        #expect(notIn.raw == "<XmlDoc><Action>LeaveRoom</Action><Parameters><Result>Failure</Result><Reason>Not in a room</Reason></Parameters></XmlDoc>")

        // The last member leaves: everyone in the zone sees DeleteRoom.
        try alice.send(Request.leaveRoom)
        let aliceFrames = try alice.expectInAnyOrder([action("LeaveRoom", result: "Success"), action("UpdateRoomList", minor: "DeleteRoom")])
        #expect(aliceFrames[1].rooms.map(\.name) == ["Porch"])
        for client in [observer, bob] {
            let delete = try client.expect("UpdateRoomList", minor: "DeleteRoom")
            #expect(delete.rooms.map(\.name) == ["Porch"])
        }
        try observer.send(Request.getRoomsInZone("Chat"))
        #expect(try observer.expect("GetRoomsInZone").rooms.isEmpty)
        try observer.send(Request.joinRoom("Porch"))
        try observer.expect("JoinRoom", result: "Failure", reason: "Room does not exist")
    }

    @Test("A room is deleted when its last member disconnects")
    func deleteOnDisconnect() throws {
        let node = try NodeProcess.start()
        let observer = try TestClient(node, name: "observer")
        try observer.login("Observer")
        let alice = try TestClient(node, name: "Alice")
        try alice.login("Alice")
        try alice.createRoom("Attic")
        try observer.expect("UpdateRoomList", minor: "CreateRoom")
        alice.close()
        let delete = try observer.expect("UpdateRoomList", minor: "DeleteRoom")
        #expect(delete.rooms.map(\.name) == ["Attic"])
        #expect(delete.zone?.attribute("users") == "1")
    }

    @Test("Moving to another room leaves the first one (UserLeft there, DeleteRoom if it empties)")
    func moveBetweenRooms() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby"])
        let alice = try TestClient(node, name: "Alice")
        try alice.login("Alice")
        let bob = try TestClient(node, name: "Bob")
        try bob.login("Bob")
        try alice.joinRoom("Lobby")
        try bob.joinRoom("Lobby")
        try alice.expect("UpdateUserList", minor: "UserJoined")

        // Bob creates a new room: he leaves the Lobby first.
        try bob.createRoom("Den")
        try alice.expect("UpdateUserList", minor: "UserLeft")
        try alice.expect("UpdateRoomList", minor: "CreateRoom")
        // Alice's messages in the Lobby no longer reach Bob.
        try alice.send(Request.publicMessage("only lobby"))
        try alice.expect("SendPublicMessage")
        try bob.expectNothing()

        // Bob goes back to the Lobby: Den empties and is deleted, and he joins the Lobby.
        try bob.send(Request.joinRoom("Lobby"))
        let delete = try bob.expect("UpdateRoomList", minor: "DeleteRoom")
        #expect(delete.rooms.map(\.name) == ["Den"])
        let join = try bob.expect("JoinRoom", result: "Success")
        #expect(join.users.map(\.name) == ["Alice", "Bob"])
        try alice.expect("UpdateRoomList", minor: "DeleteRoom")
        try alice.expect("UpdateUserList", minor: "UserJoined")
    }

    @Test("A permanent room is listed with 0 users and is not deleted when emptied")
    func permanentRoomSurvives() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby,Help"])
        let observer = try TestClient(node, name: "observer")
        try observer.login("Observer")
        observer.skipsCountUpdates = false
        let alice = try TestClient(node, name: "Alice")
        try alice.login("Alice")
        try alice.joinRoom("Lobby")
        try alice.send(Request.leaveRoom)
        try alice.expect("LeaveRoom", result: "Success")
        alice.close()

        // No DeleteRoom (nor anything but count updates) for the Lobby within the coalescing window.
        for frame in try observer.collect(for: 1.5) {
            #expect(frame.isCountUpdate, "unexpected: \(frame.raw)")
        }
        let rooms = try observer.call(Request.getRoomsInZone("Chat"), "GetRoomsInZone").rooms
        #expect(rooms.first { $0.name == "Lobby" }?.users == 0)
        #expect(Set(rooms.map(\.name)) == ["Lobby", "Help"])
    }

    @Test("Room counts pushed to the zone converge to the true count within about 1 s of the last change")
    func countsConverge() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby"])
        let observer = try TestClient(node, name: "observer")
        try observer.login("Observer")
        observer.skipsCountUpdates = false
        var latest: [String: Int] = [:]
        func track(_ frames: [Frame]) {
            for frame in frames where frame.action == "UpdateRoomList" {
                for room in frame.rooms { latest[room.name] = frame.minorAction == "DeleteRoom" ? nil : room.users }
            }
        }

        let members = try (1...4).map { index in
            let client = try TestClient(node, name: "M\(index)")
            try client.login("M\(index)")
            return client
        }
        try members[0].createRoom("Arena")
        for member in members.dropFirst() {
            #expect(try member.call(Request.joinRoom("Arena"), "JoinRoom").result == "Success")
        }
        #expect(try members[1].call(Request.joinRoom("Lobby"), "JoinRoom").result == "Success")  // Arena 3, Lobby 1
        #expect(try members[2].call(Request.leaveRoom, "LeaveRoom").result == "Success")  // Arena 2
        track(try observer.collect(for: 1.5))
        #expect(latest["Arena"] == 2, "pushed counts: \(latest)")
        #expect(latest["Lobby"] == 1, "pushed counts: \(latest)")

        // A single further change converges too.
        #expect(try members[3].call(Request.joinRoom("Lobby"), "JoinRoom").result == "Success")  // Arena 1, Lobby 2
        track(try observer.collect(for: 1.5))
        #expect(latest["Arena"] == 1, "pushed counts: \(latest)")
        #expect(latest["Lobby"] == 2, "pushed counts: \(latest)")

        // And what the pushes say matches what the node answers.
        let listed = try observer.call(Request.getRoomsInZone("Chat"), "GetRoomsInZone").rooms
        #expect(Dictionary(uniqueKeysWithValues: listed.map { ($0.name, $0.users ?? -99) }) == ["Arena": 1, "Lobby": 2])
    }

    @Test("JoinRoom failures: Room does not exist, Incorrect password, Room is full, Already in room, Not logged in")
    func joinFailures() throws {
        let node = try NodeProcess.start()
        let anonymous = try TestClient(node, name: "anonymous")
        try anonymous.send(Request.joinRoom("Anything"))
        let notLoggedIn = try anonymous.expect("JoinRoom", result: "Failure", reason: "Not logged in")
        #expect(notLoggedIn.raw == "<XmlDoc><Action>JoinRoom</Action><Parameters><Result>Failure</Result><Reason>Not logged in</Reason></Parameters></XmlDoc>")

        let owner = try TestClient(node, name: "owner")
        try owner.login("Owner")
        let guest = try TestClient(node, name: "guest")
        try guest.login("Guest")
        try owner.createRoom("Solo", capacity: 1)
        try guest.expect("UpdateRoomList", minor: "CreateRoom")
        try guest.createRoom("GuestRoom")
        try owner.expect("UpdateRoomList", minor: "CreateRoom")

        try guest.send(Request.joinRoom("NoSuchRoom"))
        try guest.expect("JoinRoom", result: "Failure", reason: "Room does not exist")
        try guest.send(Request.joinRoom("solo"))  // room names are case-sensitive
        try guest.expect("JoinRoom", result: "Failure", reason: "Room does not exist")
        try guest.send(Request.joinRoom("Solo"))
        try guest.expect("JoinRoom", result: "Failure", reason: "Room is full")
        try guest.send(Request.joinRoom("GuestRoom"))
        try guest.expect("JoinRoom", result: "Failure", reason: "Already in room")

        // On failure the user stays where it was.
        try guest.send(Request.publicMessage("still here"))
        #expect(try guest.expect("SendPublicMessage").message == "still here")
        try owner.expectNothing()
    }

    @Test("Password room: PasswordProtected=true, wrong or missing password refused, right one admitted, password never sent")
    func passwordRoom() throws {
        let password = "pw-Zq8!x"
        let node = try NodeProcess.start()
        let observer = try TestClient(node, name: "observer")
        try observer.login("Observer")
        let owner = try TestClient(node, name: "owner")
        try owner.login("Owner")

        let join = try owner.createRoom("Vault", password: password)
        #expect(join.parameters.child("Room")?.attribute("PasswordProtected") == "true")
        let push = try observer.expect("UpdateRoomList", minor: "CreateRoom")
        #expect(push.rooms.first?.passwordProtected == "true")

        let guest = try TestClient(node, name: "guest")
        let list = try guest.login("Guest")
        #expect(list.rooms.first { $0.name == "Vault" }?.passwordProtected == "true")
        try guest.send(Request.joinRoom("Vault"))
        try guest.expect("JoinRoom", result: "Failure", reason: "Incorrect password")
        try guest.send(Request.joinRoom("Vault", password: "pw-zq8!x"))
        try guest.expect("JoinRoom", result: "Failure", reason: "Incorrect password")
        let admitted = try guest.joinRoom("Vault", password: password)
        #expect(admitted.users.map(\.name) == ["Owner", "Guest"])
        try owner.expect("UpdateUserList", minor: "UserJoined")
        try observer.call(Request.getRoomsInZone("Chat"), "GetRoomsInZone")

        for client in [observer, owner, guest] {
            _ = try client.collect(for: 1.2)  // any coalesced count updates too
            for frame in client.history {
                #expect(!frame.raw.contains(password), "\(client.name) received the password: \(frame.raw)")
            }
        }
    }

    @Test("Hidden room: never listed nor pushed, but can be joined by name")
    func hiddenRoom() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby"])
        let observer = try TestClient(node, name: "observer")
        try observer.login("Observer")
        observer.skipsCountUpdates = false
        let owner = try TestClient(node, name: "owner")
        try owner.login("Owner")

        try owner.send(Request.createRoom("Secret", hidden: true))
        try owner.expect("CreateRoom", result: "Success")
        let join = try owner.expect("JoinRoom", result: "Success")  // no UpdateRoomList CreateRoom
        #expect(join.parameters.child("Room")?.attribute("Hidden") == "true")

        let guest = try TestClient(node, name: "guest")
        let list = try guest.login("Guest")
        #expect(list.rooms.map(\.name) == ["Lobby"])
        let guestJoin = try guest.joinRoom("Secret")
        #expect(guestJoin.users.map(\.name) == ["Owner", "Guest"])
        try owner.expect("UpdateUserList", minor: "UserJoined")
        try guest.send(Request.getRoomsInZone("Chat"))
        #expect(try guest.expect("GetRoomsInZone").rooms.map(\.name) == ["Lobby"])

        // Leaving empties and deletes it: still nothing pushed.
        try guest.send(Request.leaveRoom)
        try guest.expect("LeaveRoom", result: "Success")
        owner.close()
        for frame in try observer.collect(for: 1.5) {
            #expect(!frame.raw.contains("Secret"), "hidden room pushed: \(frame.raw)")
        }
        let rooms = try observer.call(Request.getRoomsInZone("Chat"), "GetRoomsInZone").rooms
        #expect(rooms.map(\.name) == ["Lobby"])
        // The hidden room is gone now that it emptied.
        try guest.send(Request.joinRoom("Secret"))
        try guest.expect("JoinRoom", result: "Failure", reason: "Room does not exist")
    }

    @Test("CreateRoom failures: Room already exists, name required / too long / invalid, Not logged in")
    func createFailures() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby"])
        let anonymous = try TestClient(node, name: "anonymous")
        try anonymous.send(Request.createRoom("Early"))
        let notLoggedIn = try anonymous.expect("CreateRoom", result: "Failure", reason: "Not logged in")
        #expect(notLoggedIn.raw == "<XmlDoc><Action>CreateRoom</Action><Parameters><Result>Failure</Result><Reason>Not logged in</Reason></Parameters></XmlDoc>")

        let owner = try TestClient(node, name: "owner")
        try owner.login("Owner")
        try owner.createRoom("Taken")
        let other = try TestClient(node, name: "other")
        try other.login("Other")

        let cases: [(raw: String, reason: String)] = [
            (Request.createRoom("Taken"), "Room already exists"),
            (Request.createRoom("Lobby"), "Room already exists"),
            (Request.createRoom(""), "Room name is required"),
            (Request.envelope("CreateRoom", "<Zone><Name></Name><Room><Description>x</Description></Room></Zone>"), "Room name is required"),
            (Request.createRoom(String(repeating: "r", count: 33)), "Room name is too long"),
            (Request.envelope("CreateRoom", "<Zone><Name></Name><Room><Name>Tab&#9;Room</Name></Room></Zone>"), "Room name contains invalid characters"),
            (Request.envelope("CreateRoom", "<Zone><Name></Name><Room><Name>Line&#10;Feed</Name></Room></Zone>"), "Room name contains invalid characters"),
            (Request.createRoom(" Leading"), "Room name contains invalid characters"),
            (Request.createRoom("Trailing "), "Room name contains invalid characters"),
        ]
        for (raw, reason) in cases {
            try other.send(raw)
            let frame = try other.expect("CreateRoom", result: "Failure", reason: reason)
            #expect(frame.raw == "<XmlDoc><Action>CreateRoom</Action><Parameters><Result>Failure</Result><Reason>\(reason)</Reason></Parameters></XmlDoc>")
        }
        // 32 characters and case-different names are fine.
        try other.createRoom(String(repeating: "r", count: 32))
        try other.send(Request.leaveRoom)
        try other.expectInAnyOrder([action("LeaveRoom", result: "Success"), action("UpdateRoomList", minor: "DeleteRoom")])
        try other.createRoom("taken")
    }

    @Test("CreateRoom failure: Too many rooms (--max-rooms)")
    func tooManyRooms() throws {
        let node = try NodeProcess.start(["--max-rooms", "2"])
        let first = try TestClient(node, name: "first")
        try first.login("First")
        try first.createRoom("One")
        let second = try TestClient(node, name: "second")
        try second.login("Second")
        try second.createRoom("Two")
        let third = try TestClient(node, name: "third")
        try third.login("Third")
        try third.send(Request.createRoom("Three"))
        try third.expect("CreateRoom", result: "Failure", reason: "Too many rooms")
        // Once a room is gone, a new one can be created.
        first.close()
        try third.waitFor("DeleteRoom of One") { $0.action == "UpdateRoomList" && $0.minorAction == "DeleteRoom" }
        try third.createRoom("Three")
    }
}

private func user(_ name: String, _ number: Int) -> UserInfo {
    var element = Wire.XMLElement(name: "User", attributes: [.init(name: "Moderator", value: "false")])
    element.children = [Wire.XMLElement(name: "Name", text: name), Wire.XMLElement(name: "AssignedNumber", text: String(number))]
    return UserInfo(element)
}
