import ChorusTesting
import Foundation
import Testing

/// PROTOCOL.md section 1: malformed, hostile, oversized and oddly split input.
@Suite("Hostile input", .nodeGate)
struct HostileInputTests {
    /// A room with a bystander who must be unaffected, and the session under test.
    private func setUp(_ arguments: [String] = []) throws -> (node: NodeProcess, bystander: TestClient, mallory: TestClient) {
        let node = try NodeProcess.start(["--rooms", "Lobby"] + arguments)
        let bystander = try TestClient(node, name: "Bystander")
        try bystander.login("Bystander")
        try bystander.joinRoom("Lobby")
        let mallory = try TestClient(node, name: "Mallory")
        try mallory.login("Mallory")
        try mallory.joinRoom("Lobby")
        try bystander.expect("UpdateUserList", minor: "UserJoined")
        return (node, bystander, mallory)
    }

    /// Frames that break the rules of section 1, each with what it breaks.
    static let malformedFrames: [(String, [UInt8])] = [
        ("unclosed element", Array("<XmlDoc><Action>Ping</Action><Parameters>".utf8)),
        ("mismatched end tag", Array("<XmlDoc><Action>Ping</Action><Parameters></Params></XmlDoc>".utf8)),
        ("text, not XML", Array("hello there".utf8)),
        ("undefined entity", Array("<XmlDoc><Action>Ping</Action><Parameters><x>&nbsp;</x></Parameters></XmlDoc>".utf8)),
        ("processing instruction", Array("<XmlDoc><?php echo 1; ?><Action>Ping</Action></XmlDoc>".utf8)),
        ("invalid UTF-8", Array("<XmlDoc><Action>Ping</Action><Parameters><x>".utf8) + [0xFF, 0xC0, 0x80] + Array("</x></Parameters></XmlDoc>".utf8)),
        ("two root elements", Array("<XmlDoc><Action>Ping</Action></XmlDoc><XmlDoc/>".utf8)),
        ("33 levels deep", Array(("<XmlDoc><Action>Ping</Action><Parameters>" + String(repeating: "<a>", count: 31) + String(repeating: "</a>", count: 31) + "</Parameters></XmlDoc>").utf8)),
        ("33 attributes", Array(("<XmlDoc " + (0..<33).map { "a\($0)=\"1\"" }.joined(separator: " ") + "><Action>Ping</Action></XmlDoc>").utf8)),
        ("character reference to U+0000", Array("<XmlDoc><Action>Ping</Action><Parameters><x>&#0;</x></Parameters></XmlDoc>".utf8)),
    ]

    @Test("Malformed frames get Error Malformed message (empty RequestAction) and the session continues")
    func malformedRecovers() throws {
        let (_, bystander, mallory) = try setUp()
        for (what, bytes) in Self.malformedFrames {
            try mallory.sendRaw(bytes + [0])
            let error = try mallory.expect("Error")
            #expect(error.reason == "Malformed message", "\(what): \(error.raw)")
            #expect(error.parameters.child("RequestAction")?.text == "", "\(what): \(error.raw)")
        }
        // The limits themselves are fine: 32 levels deep, 32 attributes.
        try mallory.send("<XmlDoc><Action>Ping</Action><Parameters>" + String(repeating: "<a>", count: 30) + String(repeating: "</a>", count: 30) + "</Parameters></XmlDoc>")
        try mallory.expect("Pong")
        try mallory.send("<XmlDoc " + (0..<32).map { "a\($0)=\"1\"" }.joined(separator: " ") + "><Action>Ping</Action></XmlDoc>")
        try mallory.expect("Pong")

        try mallory.send(Request.publicMessage("still talking"))
        #expect(try mallory.expect("SendPublicMessage").message == "still talking")
        #expect(try bystander.expect("SendPublicMessage").message == "still talking")
        try bystander.expectNothing()
    }

    @Test("DTDs and entity declarations (billion laughs, external entities) are refused as Malformed message")
    func doctypeRefused() throws {
        let (_, bystander, mallory) = try setUp()
        let laughs = """
            <?xml version="1.0"?><!DOCTYPE XmlDoc [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\
            <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\
            <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>\
            <XmlDoc><Action>SendPublicMessage</Action><Parameters><Message>&lol4;</Message></Parameters></XmlDoc>
            """
        let external = #"<!DOCTYPE XmlDoc [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><XmlDoc><Action>SendPublicMessage</Action><Parameters><Message>&xxe;</Message></Parameters></XmlDoc>"#
        let plain = #"<!DOCTYPE XmlDoc><XmlDoc><Action>Ping</Action></XmlDoc>"#
        for frame in [laughs, external, plain] {
            try mallory.send(frame)
            try mallory.expectError("Malformed message", requestAction: "")
        }
        try mallory.send(Request.ping)
        try mallory.expect("Pong")
        try bystander.expectNothing()
    }

    @Test("More than 10 malformed frames → disconnected; what was sent before is delivered; others unaffected")
    func tooManyMalformed() throws {
        let (node, bystander, mallory) = try setUp()
        let carol = try TestClient(node, name: "Carol")
        try carol.login("Carol")
        try carol.joinRoom("Lobby")
        try bystander.expect("UpdateUserList", minor: "UserJoined")
        try mallory.expect("UpdateUserList", minor: "UserJoined")

        for index in 0..<10 {
            try mallory.sendRaw(Array("<broken \(index)".utf8) + [0])
            try mallory.expectError("Malformed message", requestAction: "")
        }
        try mallory.send(Request.ping)  // ten is still allowed
        try mallory.expect("Pong")
        // A valid message, then the eleventh malformed frame, in one write.
        try mallory.sendRaw(Array(Request.publicMessage("last words").utf8) + [0] + Array("<eleventh".utf8) + [0])
        // Mallory gets the error, then the node closes the connection (its own copy of
        // "last words" may or may not make it before the close).
        let last = try mallory.expectClosed()
        #expect(last.filter { $0.action == "Error" }.map(\.reason) == ["Malformed message"], "\(last.map(\.raw))")
        #expect(last.allSatisfy { $0.action == "Error" || $0.message == "last words" }, "\(last.map(\.raw))")

        // What Mallory sent before is delivered to the others; then it leaves.
        for client in [bystander, carol] {
            #expect(try client.expect("SendPublicMessage").message == "last words")
            let left = try client.expect("UpdateUserList", minor: "UserLeft")
            #expect(left.userName == "Mallory")
        }
        try carol.send(Request.publicMessage("after the storm"))
        #expect(try bystander.expect("SendPublicMessage").message == "after the storm")
        #expect(try carol.expect("SendPublicMessage").message == "after the storm")
    }

    @Test("A frame over --max-frame-bytes → Error Message too large, then disconnect; a frame at the limit is fine")
    func frameTooLarge() throws {
        let (_, bystander, mallory) = try setUp(["--max-frame-bytes", "1024"])
        // Exactly 1024 bytes (terminator excluded) is accepted.
        let head = "<XmlDoc><Action>Ping</Action><Parameters>"
        let tail = "</Parameters></XmlDoc>"
        let atLimit = head + String(repeating: " ", count: 1024 - head.utf8.count - tail.utf8.count) + tail
        #expect(atLimit.utf8.count == 1024)
        try mallory.send(atLimit)
        try mallory.expect("Pong")

        // A message, then a frame of 1025 bytes, in one write.
        let overLimit = head + String(repeating: " ", count: 1025 - head.utf8.count - tail.utf8.count) + tail
        try mallory.sendRaw(Array(Request.publicMessage("before").utf8) + [0] + Array(overLimit.utf8) + [0])
        let last = try mallory.expectClosed()
        let errors = last.filter { $0.action == "Error" }
        #expect(errors.map(\.raw) == ["<XmlDoc><Action>Error</Action><Parameters><Reason>Message too large</Reason><RequestAction></RequestAction></Parameters></XmlDoc>"])
        #expect(last.allSatisfy { $0.action == "Error" || $0.message == "before" }, "\(last.map(\.raw))")

        // What Mallory sent before is delivered; then it leaves.
        #expect(try bystander.expect("SendPublicMessage").message == "before")
        #expect(try bystander.expect("UpdateUserList", minor: "UserLeft").userName == "Mallory")
        try bystander.send(Request.publicMessage("unaffected"))
        #expect(try bystander.expect("SendPublicMessage").message == "unaffected")
    }

    @Test("An endless frame (no terminator) is cut at the size limit")
    func endlessFrame() throws {
        let (_, bystander, mallory) = try setUp(["--max-frame-bytes", "1024"])
        try mallory.sendRaw(Array("<XmlDoc><Action>SendPublicMessage</Action><Parameters><Message>".utf8) + [UInt8](repeating: 0x41, count: 4096))
        try mallory.expectError("Message too large", requestAction: "")
        try mallory.expectClosed()
        #expect(try bystander.expect("UpdateUserList", minor: "UserLeft").userName == "Mallory")
    }

    @Test("Frames split across many TCP writes, one byte at a time, still work")
    func oneByteAtATime() throws {
        let (node, bystander, mallory) = try setUp()
        let slow = try TestClient(port: node.port, name: "Trickle", node: node)
        try slow.expect("ConnectionResponse", result: "Accepted")
        func trickle(_ xml: String) throws {
            for byte in Array(xml.utf8) + [0] {
                try slow.sendRaw([byte])
                usleep(1000)  // let each byte leave as its own segment
            }
        }
        try trickle(Request.login("Trickle"))
        try slow.expect("RoomList")
        try slow.expect("LoginResponse", result: "Accepted")
        try trickle(Request.joinRoom("Lobby"))
        try slow.expect("JoinRoom", result: "Success")
        let text = "é中🎉 <&> split"
        try trickle(Request.publicMessage(text))
        for client in [slow, bystander, mallory] {
            let frame = try client.waitFor("the trickled message") { $0.action == "SendPublicMessage" }
            #expect(frame.message == text)
            #expect(frame.sender == "Trickle")
        }
    }

    @Test("Several frames in one write are all answered: responses in request order, room messages in send order")
    func severalFramesInOneWrite() throws {
        let (_, bystander, mallory) = try setUp()
        let frames = [Request.ping, Request.getServerTime, Request.publicMessage("one"), Request.getLoggedInUserCount,
                      Request.publicMessage("two"), Request.ping]
        try mallory.sendRaw(frames.flatMap { Array($0.utf8) + [0] })
        // A room message travels through the room (the cluster bus), so responses to later
        // requests may overtake the sender's own copy; each stream keeps its order.
        let answers = try (0..<6).map { _ in try mallory.next() }
        #expect(answers.filter { $0.action != "SendPublicMessage" }.map(\.action) == ["Pong", "GetServerTime", "GetLoggedInUserCount", "Pong"])
        #expect(answers.filter { $0.action == "SendPublicMessage" }.map(\.message) == ["one", "two"])
        #expect(answers.first { $0.action == "GetLoggedInUserCount" }?.param("LoggedInUsers") == "2")
        #expect(try bystander.expect("SendPublicMessage").message == "one")
        #expect(try bystander.expect("SendPublicMessage").message == "two")

        // A frame split in the middle of a multi-byte character, the rest glued to the next frame.
        let message = Array(Request.publicMessage("café").utf8)
        let cut = message.firstIndex(of: 0xC3)! + 1
        try mallory.sendRaw(Array(message[..<cut]))
        try mallory.sendRaw(Array(message[cut...]) + [0] + Array(Request.ping.utf8) + [0])
        let split = try mallory.expectInAnyOrder([action("SendPublicMessage"), action("Pong")])
        #expect(split[0].message == "café")
        #expect(try bystander.expect("SendPublicMessage").message == "café")
    }
}
