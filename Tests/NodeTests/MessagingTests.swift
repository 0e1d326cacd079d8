import ChorusTesting
import Foundation
import Testing

/// PROTOCOL.md section 4: SendPublicMessage and SendPrivateMessage.
@Suite("Messaging", .nodeGate)
struct MessagingTests {
    /// Text that must survive the trip byte for byte: markup characters, quotes, an entity-like
    /// string, CDATA-like text, tabs and line ends, and characters outside the BMP.
    static let trickyText = "a<b> & \"c\" 'd' &amp; ]]> <![CDATA[x]]> \t tab\r\nnew line é 中文 🎉 \u{1F468}\u{200D}\u{1F469}"

    @Test("A public message reaches every member, the sender included, byte-exact after unescaping")
    func publicMessage() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby"])
        let alice = try TestClient(node, name: "Alice")
        try alice.login("Alice")
        let bob = try TestClient(node, name: "Bob")
        try bob.login("Bob")
        let outsider = try TestClient(node, name: "outsider")
        try outsider.login("Outsider")
        try alice.joinRoom("Lobby")
        try bob.joinRoom("Lobby")
        try alice.expect("UpdateUserList", minor: "UserJoined")

        let variables = [("colour", "<red> & \"blue\""), ("n", "42"), ("empty", "")]
        try alice.send(Request.publicMessage(Self.trickyText, variables: variables))
        for client in [alice, bob] {
            let frame = try client.expect("SendPublicMessage")
            #expect(frame.parameters.children.map(\.name) == ["Message", "User", "Variables"])
            #expect(frame.message == Self.trickyText, "\(client.name) got \(frame.raw)")
            #expect(Array((frame.message ?? "").utf8) == Array(Self.trickyText.utf8))
            #expect(frame.sender == "Alice")
            #expect(frame.variables.map { [$0.name, $0.data] } == variables.map { [$0.0, $0.1] })
            // User text never becomes markup: the Message element has no children.
            #expect(frame.parameters.child("Message")?.children.isEmpty == true)
        }
        try outsider.expectNothing()

        // The same text sent as CDATA arrives the same.
        try bob.send(Request.envelope("SendPublicMessage", "<Message><![CDATA[x < y && \"z\"]]></Message><Variables/>"))
        for client in [alice, bob] {
            let frame = try client.expect("SendPublicMessage")
            #expect(frame.message == "x < y && \"z\"")
            #expect(frame.sender == "Bob")
            #expect(frame.raw.hasSuffix("<User>Bob</User><Variables/></Parameters></XmlDoc>"))
        }
    }

    @Test("Messages of one sender arrive in send order at every member")
    func sendOrder() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby", "--flood-rate", "10000", "--flood-burst", "10000"])
        let names = ["Ann", "Ben", "Cid"]
        let clients = try names.map { name in
            let client = try TestClient(node, name: name)
            try client.login(name)
            return client
        }
        for client in clients { try client.call(Request.joinRoom("Lobby"), "JoinRoom") }
        // Drain the join notifications.
        _ = try clients[0].waitFor("UserJoined Cid") { $0.action == "UpdateUserList" && $0.userName == "Cid" }
        _ = try clients[1].waitFor("UserJoined Cid") { $0.action == "UpdateUserList" && $0.userName == "Cid" }

        let count = 200
        // Two senders interleave; each one's messages must stay in order.
        var batch: [UInt8] = []
        for index in 0..<count {
            batch += Array(Request.publicMessage("Ann-\(index)").utf8) + [0]
        }
        try clients[0].sendRaw(batch)
        for index in 0..<count { try clients[1].send(Request.publicMessage("Ben-\(index)")) }

        for client in clients {
            var received: [String: [Int]] = ["Ann": [], "Ben": []]
            while received.values.map(\.count).reduce(0, +) < 2 * count {
                let frame = try client.expect("SendPublicMessage")
                let text = frame.message ?? ""
                let parts = text.split(separator: "-")
                #expect(parts.first.map(String.init) == frame.sender, "\(text) sent by \(frame.sender ?? "?")")
                received[frame.sender ?? "", default: []].append(Int(parts.last ?? "") ?? -1)
            }
            #expect(received["Ann"] == Array(0..<count), "\(client.name): Ann's messages out of order")
            #expect(received["Ben"] == Array(0..<count), "\(client.name): Ben's messages out of order")
        }
        // All members see the room's messages in one and the same order.
        let orders = clients.map { client in
            client.history.filter { $0.action == "SendPublicMessage" }.map { $0.message ?? "" }
        }
        #expect(orders[0] == orders[1] && orders[1] == orders[2], "members saw different orders")
    }

    @Test("SendPublicMessage errors: Not in a room, Message is too long")
    func publicMessageErrors() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby"])
        let alice = try TestClient(node, name: "Alice")
        try alice.login("Alice")
        try alice.send(Request.publicMessage("nobody hears"))
        let error = try alice.expectError("Not in a room", requestAction: "SendPublicMessage")
        #expect(error.raw.hasPrefix("<XmlDoc><Action>Error</Action><Parameters><Reason>Not in a room</Reason><RequestAction>SendPublicMessage</RequestAction>"))

        try alice.joinRoom("Lobby")
        let bob = try TestClient(node, name: "Bob")
        try bob.login("Bob")
        try bob.joinRoom("Lobby")
        try alice.expect("UpdateUserList", minor: "UserJoined")
        try alice.send(Request.publicMessage(String(repeating: "x", count: 4097)))
        try alice.expectError("Message is too long", requestAction: "SendPublicMessage")
        let longest = String(repeating: "é", count: 4096)
        try alice.send(Request.publicMessage(longest))
        #expect(try alice.expect("SendPublicMessage").message == longest)
        #expect(try bob.expect("SendPublicMessage").message == longest)
        try bob.expectNothing()
    }

    @Test("Private messages reach the named users wherever they are; no copy to the sender; unknown names get User not found")
    func privateMessages() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby,Help"])
        let alice = try TestClient(node, name: "Alice")
        try alice.login("Alice")
        try alice.joinRoom("Lobby")
        let bob = try TestClient(node, name: "Bob")  // in no room
        try bob.login("Bob")
        let carol = try TestClient(node, name: "Carol")  // in another room
        try carol.login("Carol")
        try carol.joinRoom("Help")
        let dave = try TestClient(node, name: "Dave")  // in Alice's room, not addressed
        try dave.login("Dave")
        try dave.joinRoom("Lobby")
        try alice.expect("UpdateUserList", minor: "UserJoined")

        let variables = [("mood", "<sly>")]
        try alice.send(Request.privateMessage(to: ["Bob", "Ghost", "Carol"], MessagingTests.trickyText, variables: variables))
        for client in [bob, carol] {
            let frame = try client.expect("SendPrivateMessage")
            #expect(frame.parameters.children.map(\.name) == ["Message", "User", "Variables"])
            #expect(frame.message == MessagingTests.trickyText)
            #expect(frame.sender == "Alice")
            #expect(frame.variables.map { [$0.name, $0.data] } == [["mood", "<sly>"]])
        }
        let notFound = try alice.expectError("User not found", requestAction: "SendPrivateMessage")
        #expect(notFound.param("Detail") == "Ghost")
        #expect(notFound.raw == "<XmlDoc><Action>Error</Action><Parameters><Reason>User not found</Reason><RequestAction>SendPrivateMessage</RequestAction><Detail>Ghost</Detail></Parameters></XmlDoc>")
        try alice.expectNothing()
        try dave.expectNothing(within: 0.2)

        // A user not logged in cannot be reached; a name with markup is echoed back escaped.
        try bob.send(Request.privateMessage(to: ["<b>Eve</b>"], "hello"))
        let eve = try bob.expectError("User not found", requestAction: "SendPrivateMessage")
        #expect(eve.param("Detail") == "<b>Eve</b>")
        try bob.expectNothing(within: 0.2)
    }
}
