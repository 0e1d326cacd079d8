import ChorusTesting
import Foundation
import Testing
import Wire

/// PROTOCOL.md sections 3 and 4: connection, login and its refusals, the small requests.
@Suite("Session", .nodeGate)
struct SessionTests {
    @Test("Connect: ConnectionResponse Accepted, version 3.2.0; Login: RoomList of Chat, then LoginResponse Accepted")
    func connectAndLogin() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby,Help"])
        let client = try TestClient(port: node.port, name: "alice", node: node)

        let hello = try client.next()
        #expect(hello.raw == #"<XmlDoc><Action>ConnectionResponse</Action><Parameters><Result>Accepted</Result><Version Major="3" Minor="2" Sub="0"/></Parameters></XmlDoc>"#)
        let version = try #require(hello.parameters.child("Version"))
        #expect(version.attribute("Major") == "3")
        #expect(version.attribute("Minor") == "2")
        #expect(version.attribute("Sub") == "0")

        try client.send(Request.login("Alice"))
        let list = try client.next()
        #expect(list.action == "RoomList")
        let zone = try #require(list.zone)
        #expect(zone.child("Name")?.text == "Chat")
        #expect(zone.attribute("users") == "1")
        let rooms = list.rooms
        #expect(Set(rooms.map(\.name)) == ["Lobby", "Help"])
        #expect(rooms.count == 2)
        for room in rooms {
            #expect(room.attributeNames == ["Users", "Capacity", "PasswordProtected", "Updatable"], "\(room)")
            #expect(room.users == 0)
            #expect(room.capacity == -1)
            #expect(room.passwordProtected == "false")
            #expect(room.updatable == "true")
            #expect(room.roomDescription == "")
        }

        let response = try client.next()
        #expect(response.raw == "<XmlDoc><Action>LoginResponse</Action><Parameters><Result>Accepted</Result><Variables/></Parameters></XmlDoc>")
        try client.expectNothing()
    }

    @Test("The zone name comes from --zone")
    func configuredZone() throws {
        let node = try NodeProcess.start(["--zone", "Plaza", "--rooms", "Fountain"])
        let client = try TestClient(node)
        let list = try client.login("Zed")
        #expect(list.zone?.child("Name")?.text == "Plaza")
        #expect(list.rooms.map(\.name) == ["Fountain"])
    }

    @Test("Login refusals: each reason of PROTOCOL.md")
    func loginRefusals() throws {
        let node = try NodeProcess.start()
        let client = try TestClient(node)
        let refusals: [(name: String, reason: String)] = [
            ("", "Name is required"),
            ("   ", "Name is required"),
            (String(repeating: "n", count: 21), "Name is too long"),
            ("bad<name", "Name contains invalid characters"),
            ("semi;colon", "Name contains invalid characters"),
            (" lead", "Name contains invalid characters"),
            ("trail ", "Name contains invalid characters"),
        ]
        for refusal in refusals {
            try client.send(Request.login(refusal.name))
            let frame = try client.expect("LoginResponse", result: "Denied")
            #expect(frame.reason == refusal.reason, "name \"\(refusal.name)\"")
            #expect(frame.raw == "<XmlDoc><Action>LoginResponse</Action><Parameters><Result>Denied</Result><Reason>\(refusal.reason)</Reason></Parameters></XmlDoc>")
        }
        // Still usable after refusals; the allowed characters are accepted.
        try client.login("Good_name-1.2 x")
        try client.send(Request.login("Other"))
        try client.expect("LoginResponse", result: "Denied", reason: "Already logged in")
        // Exactly 20 characters is fine.
        let twenty = try TestClient(node)
        try twenty.login(String(repeating: "é", count: 20))
    }

    @Test("With --accounts, a wrong or unknown password is Incorrect password; the right one logs in",
          arguments: ["\n", "\r\n"])
    func accounts(lineEnd: String) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-accounts-\(UUID().uuidString)").path
        try ["# test accounts", "alice:secret", "bob:a:b", ""].joined(separator: lineEnd).write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let node = try NodeProcess.start(["--accounts", path])
        let client = try TestClient(node)
        try client.send(Request.login("alice", password: "wrong"))
        try client.expect("LoginResponse", result: "Denied", reason: "Incorrect password")
        try client.send(Request.login("mallory", password: "secret"))
        try client.expect("LoginResponse", result: "Denied", reason: "Incorrect password")
        try client.send(Request.login("ALICE", password: "secret"))
        try client.expect("RoomList")
        try client.expect("LoginResponse", result: "Accepted")
        let bob = try TestClient(node)
        try bob.send(Request.login("bob", password: "a:b"))
        try bob.expect("RoomList")
        try bob.expect("LoginResponse", result: "Accepted")
    }

    @Test("Name is already in use: case-insensitively and after NFC normalization")
    func nameInUse() throws {
        let node = try NodeProcess.start()
        let alice = try TestClient(node, name: "Alice")
        try alice.login("Alice")
        let jose = try TestClient(node, name: "José")
        try jose.login("Jos\u{E9}")  // precomposed é

        let other = try TestClient(node, name: "other")
        for name in ["Alice", "aLiCe", "ALICE", "Jose\u{301}", "JOSE\u{301}", "jos\u{C9}"] {
            try other.send(Request.login(name))
            try other.expect("LoginResponse", result: "Denied", reason: "Name is already in use")
        }
        try other.login("Alicia")
    }

    @Test("A name is free again once its owner disconnects, and after Logout")
    func nameFreedOnDisconnectAndLogout() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby"])
        let watcher = try TestClient(node, name: "watcher")
        try watcher.login("Watcher")
        try watcher.joinRoom("Lobby")

        // Closing the socket.
        let first = try TestClient(node, name: "Alice#1")
        try first.login("Alice")
        try first.joinRoom("Lobby")
        try watcher.expect("UpdateUserList", minor: "UserJoined")
        first.close()
        let left = try watcher.expect("UpdateUserList", minor: "UserLeft")
        #expect(left.userName == "Alice")

        let second = try TestClient(node, name: "Alice#2")
        try second.login("aLiCe")
        try second.joinRoom("Lobby")
        try watcher.expect("UpdateUserList", minor: "UserJoined")

        // Logout: a response, then the node closes the connection.
        try second.send(Request.logout)
        let bye = try second.expect("Logout", result: "Success")
        #expect(bye.raw == "<XmlDoc><Action>Logout</Action><Parameters><Result>Success</Result></Parameters></XmlDoc>")
        try second.expectClosed()
        let leftAgain = try watcher.expect("UpdateUserList", minor: "UserLeft")
        #expect(leftAgain.userName == "aLiCe")

        let third = try TestClient(node, name: "Alice#3")
        try third.login("ALICE")
    }

    @Test("Login UserVariables become the user's initial variables, seen by room members")
    func initialUserVariables() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby"])
        let alice = try TestClient(node, name: "Alice")
        try alice.login("Alice")
        try alice.joinRoom("Lobby")
        let bob = try TestClient(node, name: "Bob")
        try bob.send(Request.login("Bob", variables: [("avatar", "<cat & dog>"), ("age", "7")]))
        try bob.expect("RoomList")
        try bob.expect("LoginResponse", result: "Accepted")
        let join = try bob.joinRoom("Lobby")
        func variables(of user: XMLElement?) -> [[String]] {
            (user?.child("UserVariables")?.children ?? []).map { [$0.child("Name")?.text ?? "?", $0.child("Data")?.text ?? "?"] }
        }
        let bobInList = join.parameters.child("Users")?.children.last
        #expect(bobInList?.child("Name")?.text == "Bob")
        #expect(variables(of: bobInList) == [["avatar", "<cat & dog>"], ["age", "7"]], "\(join.raw)")
        let joined = try alice.expect("UpdateUserList", minor: "UserJoined")
        #expect(variables(of: joined.parameters.child("User")) == [["avatar", "<cat & dog>"], ["age", "7"]], "\(joined.raw)")
    }

    @Test("GetLoggedInUserCount counts logged-in users only")
    func loggedInUserCount() throws {
        let node = try NodeProcess.start()
        let a = try TestClient(node, name: "a")
        try a.login("CountA")
        let b = try TestClient(node, name: "b")
        try b.login("CountB")
        _ = try TestClient(node, name: "anonymous")  // connected, not logged in

        try a.send(Request.getLoggedInUserCount)
        let count = try a.expect("GetLoggedInUserCount")
        #expect(count.raw == "<XmlDoc><Action>GetLoggedInUserCount</Action><Parameters><LoggedInUsers>2</LoggedInUsers></Parameters></XmlDoc>")
    }

    @Test("GetServerTime: milliseconds since 1970, close to local time")
    func serverTime() throws {
        let node = try NodeProcess.start()
        let client = try TestClient(node)
        try client.login("Timer")
        let before = Date().timeIntervalSince1970 * 1000
        try client.send(Request.getServerTime)
        let frame = try client.expect("GetServerTime")
        let after = Date().timeIntervalSince1970 * 1000
        let text = try #require(frame.param("ServerTime"))
        #expect(text.allSatisfy(\.isASCII) && text.allSatisfy(\.isNumber), "ServerTime \"\(text)\" is not a decimal number")
        let milliseconds = try #require(Double(text))
        #expect(milliseconds >= before - 5000 && milliseconds <= after + 5000, "server time \(milliseconds), local \(before)…\(after)")
    }

    @Test("Ping → Pong with empty parameters")
    func ping() throws {
        let node = try NodeProcess.start()
        let client = try TestClient(node)
        try client.send(Request.ping)  // works before login too
        let pong = try client.expect("Pong")
        #expect(pong.parameters.children.isEmpty && pong.parameters.text.isEmpty)
        try client.login("Pinger")
        try client.send(Request.ping)
        try client.expect("Pong")
    }

    @Test("Unknown action → Error Unknown action with RequestAction")
    func unknownAction() throws {
        let node = try NodeProcess.start()
        let client = try TestClient(node)
        try client.login("Curious")
        try client.send(Request.envelope("FrobnicateWidgets", "<Foo>1</Foo>"))
        let error = try client.expectError("Unknown action", requestAction: "FrobnicateWidgets")
        #expect(error.raw.hasPrefix("<XmlDoc><Action>Error</Action><Parameters><Reason>Unknown action</Reason><RequestAction>FrobnicateWidgets</RequestAction>"))
        try client.send(Request.ping)
        try client.expect("Pong")
    }

    @Test("Element names and actions in any letter case are accepted")
    func letterCase() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby"])
        let client = try TestClient(node)
        try client.send("<xmldoc><action>login</action><parameters><name>Lowly</name><password></password></parameters></xmldoc>")
        try client.expect("RoomList")
        try client.expect("LoginResponse", result: "Accepted")
        try client.send("<xmldoc><action>joinroom</action><parameters><zone><name>Chat</name><room><name>Lobby</name></room></zone></parameters></xmldoc>")
        let join = try client.expect("JoinRoom", result: "Success")
        #expect(join.users.map(\.name) == ["Lowly"])
        try client.send("<XMLDOC><ACTION>PING</ACTION><PARAMETERS/></XMLDOC>")
        try client.expect("Pong")
        try client.send("<XmlDoc><Action>sendPUBLICmessage</Action><Parameters><message>hi</message></Parameters></XmlDoc>")
        let message = try client.expect("SendPublicMessage")
        #expect(message.message == "hi")
    }

    @Test("An XML declaration and unknown parameter elements are accepted; empty frames are ignored")
    func declarationUnknownElementsEmptyFrames() throws {
        let node = try NodeProcess.start()
        let client = try TestClient(node)
        try client.sendRaw(Array("\0 \r\n\t\0\0".utf8))
        try client.send(#"<?xml version="1.0" encoding="UTF-8"?><XmlDoc><Action>Login</Action><Parameters><Name>Decl</Name><Shoe size="9"/><Password></Password></Parameters></XmlDoc>"#)
        try client.expect("RoomList")
        try client.expect("LoginResponse", result: "Accepted")
        try client.expectNothing()
    }
}
