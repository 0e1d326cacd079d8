import ChorusTesting
import Foundation
import Testing

/// PROTOCOL.md sections 3 and 4: zones, RoomList on zone change, GetRoomsInZone.
@Suite("Zones", .nodeGate)
struct ZoneTests {
    @Test("Creating a room in another zone sends that zone's RoomList first; a joiner from another zone gets it too")
    func otherZone() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby"])
        let alice = try TestClient(node, name: "Alice")
        try alice.login("Alice")
        let bob = try TestClient(node, name: "Bob")
        try bob.login("Bob")
        let observer = try TestClient(node, name: "observer")  // stays in Chat
        try observer.login("Observer")

        try alice.send(Request.createRoom("Garden", zone: "Outdoor"))
        try alice.expect("CreateRoom", result: "Success")
        let aliceList = try alice.expect("RoomList")
        #expect(aliceList.zone?.child("Name")?.text == "Outdoor")
        let push = try alice.expect("UpdateRoomList", minor: "CreateRoom")
        #expect(push.rooms.map(\.name) == ["Garden"])
        let aliceJoin = try alice.expect("JoinRoom", result: "Success")
        #expect(aliceJoin.users.map(\.name) == ["Alice"])

        // Nobody in Chat hears about a room of Outdoor.
        try observer.expectNothing()
        try bob.expectNothing(within: 0.1)

        try bob.send(Request.joinRoom("Garden", zone: "Outdoor"))
        let bobList = try bob.expect("RoomList")
        #expect(bobList.zone?.child("Name")?.text == "Outdoor")
        #expect(bobList.rooms.map(\.name) == ["Garden"])
        let bobJoin = try bob.expect("JoinRoom", result: "Success")
        #expect(bobJoin.users.map(\.name) == ["Alice", "Bob"])
        try alice.expect("UpdateUserList", minor: "UserJoined")

        try observer.send(Request.getRoomsInZone("Outdoor"))
        let outdoor = try observer.expect("GetRoomsInZone")
        #expect(outdoor.zone?.child("Name")?.text == "Outdoor")
        #expect(outdoor.zone?.attribute("users") == "2")
        #expect(outdoor.rooms.map(\.name) == ["Garden"])
        #expect(outdoor.rooms.first?.users == 2)

        // Bob is in Outdoor now: rooms created in Chat are not pushed to him, and he is not
        // counted in Chat any more.
        try observer.createRoom("Indoors")
        try bob.expectNothing()
        try observer.send(Request.getRoomsInZone("Chat"))
        let chat = try observer.expect("GetRoomsInZone")
        #expect(chat.zone?.attribute("users") == "1")
        #expect(Set(chat.rooms.map(\.name)) == ["Lobby", "Indoors"])

        // Coming back to Chat sends the Chat room list again.
        try bob.send(Request.joinRoom("Lobby", zone: "Chat"))
        let back = try bob.expect("RoomList")
        #expect(back.zone?.child("Name")?.text == "Chat")
        #expect(Set(back.rooms.map(\.name)) == ["Lobby", "Indoors"])
        try bob.expect("JoinRoom", result: "Success")
    }

    @Test("GetRoomsInZone: the zone's rooms; an unknown zone has none")
    func roomsInZone() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby,Help"])
        let client = try TestClient(node)
        try client.login("Lister")
        try client.send(Request.getRoomsInZone("Chat"))
        let chat = try client.expect("GetRoomsInZone")
        #expect(chat.zone?.child("Name")?.text == "Chat")
        #expect(chat.zone?.attribute("users") == "1")
        #expect(Set(chat.rooms.map(\.name)) == ["Lobby", "Help"])
        for room in chat.rooms {
            #expect(room.attributeNames == ["Users", "Capacity", "PasswordProtected", "Updatable"])
        }

        try client.send(Request.getRoomsInZone("Nowhere"))
        let unknown = try client.expect("GetRoomsInZone")
        #expect(unknown.zone?.child("Name")?.text == "Nowhere")
        #expect(unknown.zone?.child("Rooms") != nil)
        #expect(unknown.rooms.isEmpty)
        #expect(unknown.raw == #"<XmlDoc><Action>GetRoomsInZone</Action><Parameters><Zone users="0"><Name>Nowhere</Name><Rooms/></Zone></Parameters></XmlDoc>"#)
    }
}
