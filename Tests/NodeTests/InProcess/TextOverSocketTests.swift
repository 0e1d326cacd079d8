import ChorusTesting
import Foundation
import Testing

/// Issue 8, the smaller ones, over real sockets: a carriage return stays a carriage
/// return, markup inside a message keeps its order, and a byte order mark before a
/// document is accepted (PROTOCOL.md sections 1 and 4).
@Suite(.serialized)
struct TextOverSocketTests {
    @Test func carriageReturnsMarkupAndByteOrderMarksArriveIntact() async throws {
        let node = try await InProcessNode.start { $0.permanentRooms = ["Lobby"] }
        defer { Task { await node.stop() } }
        try await onThreads(1) { _ in
            let alice = try TestClient.accepted(port: node.port, name: "alice")
            try alice.login("alice")
            try alice.joinRoom("Lobby")
            let bob = try TestClient.accepted(port: node.port, name: "bob")
            // A byte order mark before the document.
            try bob.sendRaw([0xEF, 0xBB, 0xBF] + Array(Request.login("bob").utf8) + [0])
            try bob.expect("RoomList")
            try bob.expect("LoginResponse", result: "Accepted")
            try bob.joinRoom("Lobby")

            // A carriage return, raw and as a reference, stays one.
            try alice.send(Request.envelope("SendPublicMessage", "<Message>one\r\ntwo&#13;three</Message><Variables/>"))
            let message = try bob.waitFor("the message") { $0.action == "SendPublicMessage" }
            #expect(message.message == "one\r\ntwo\rthree")
            // On the wire as a reference: a conforming parser would turn a raw CR into LF.
            #expect(message.raw.contains("one&#13;\ntwo&#13;three"), "\(message.raw)")
            #expect(!message.raw.contains("\r"))
            // Markup inside the text keeps its place.
            try alice.send(Request.envelope("SendPublicMessage", "<Message>Hello <b>World</b>!</Message><Variables/>"))
            #expect(try bob.waitFor("the markup message") { $0.action == "SendPublicMessage" }.message == "Hello <b>World</b>!")
        }
    }
}
