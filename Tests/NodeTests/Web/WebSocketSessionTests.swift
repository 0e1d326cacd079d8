import ChorusTesting
import Foundation
import NIOCore
import Node
import Testing

/// PROTOCOL.md section 8 over real sockets: WebSocket sessions at `/ws` and `/xmlsocket`
/// are sessions like TCP ones, in the same rooms, with the same rules.
@Suite(.serialized)
struct WebSocketSessionTests {
    private static func startNode(_ configure: @escaping (inout NodeConfiguration) -> Void = { _ in }) async throws -> InProcessNode {
        try await InProcessNode.start {
            $0.httpPort = 0
            $0.permanentRooms = ["Lobby"]
            configure(&$0)
        }
    }

    @Test(arguments: [ClientTransport.ws, .xmlsocket])
    func aWebSocketUserChatsWithATCPUserBothWays(transport: ClientTransport) async throws {
        let node = try await Self.startNode()
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            let web = try TestClient.accepted(port: webPort, name: "web", transport: transport)
            try web.login("Webby")
            try web.joinRoom("Lobby")
            let tcp = try TestClient.accepted(port: node.port, name: "tcp")
            try tcp.login("Tcpy")
            let joined = try tcp.joinRoom("Lobby")
            #expect(Set(joined.users.map(\.name)) == ["Webby", "Tcpy"])
            let arrival = try web.next(action: "UpdateUserList")
            #expect(arrival.minorAction == "UserJoined" && arrival.userName == "Tcpy")

            try web.send(Request.publicMessage("hello from the browser <&>"))
            let atTCP = try tcp.next(action: "SendPublicMessage")
            #expect(atTCP.message == "hello from the browser <&>" && atTCP.sender == "Webby")
            let echo = try web.next(action: "SendPublicMessage")
            #expect(echo.message == "hello from the browser <&>")

            try tcp.send(Request.privateMessage(to: ["Webby"], "psst"))
            let whisper = try web.next(action: "SendPrivateMessage")
            #expect(whisper.message == "psst" && whisper.sender == "Tcpy")

            tcp.close()
            let left = try web.next(action: "UpdateUserList")
            #expect(left.minorAction == "UserLeft" && left.userName == "Tcpy")
        }
    }

    @Test func onWsEachTextMessageIsOneDocumentWithoutTheZeroByte() async throws {
        let node = try await Self.startNode()
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            let web = try TestClient.accepted(port: webPort, name: "web", transport: .ws)
            try web.login("Textual")
            try web.joinRoom("Lobby")
            try web.call(Request.ping, "Pong")
            let messages = web.webSocketFrames.filter { $0.opcode != 0x8 }
            #expect(messages.count == web.history.count, "one text message per document")
            #expect(messages.allSatisfy { $0.opcode == 0x1 && $0.fin && !$0.payload.contains(0) })
        }
    }

    @Test func xmlsocketDocumentsSplitAndJoinedAtEveryBoundaryAreReadAlike() async throws {
        let node = try await Self.startNode()
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            let client = try TestClient.accepted(port: webPort, name: "stream", transport: .xmlsocket)
            try client.login("Streamer")
            let stream = Array((Request.ping + "\0" + Request.getLoggedInUserCount + "\0").utf8)
            for cut in 1..<stream.count {
                try client.sendRaw(Array(stream[..<cut]))
                try client.sendRaw(Array(stream[cut...]))
                try client.expect("Pong")
                try client.expect("GetLoggedInUserCount")
            }
            // Three documents joined in one message.
            try client.sendRaw(stream + Array((Request.ping + "\0").utf8))
            try client.expect("Pong")
            try client.expect("GetLoggedInUserCount")
            try client.expect("Pong")
            #expect(client.webSocketFrames.allSatisfy { $0.opcode == 0x2 }, "the stream comes back in binary messages")
        }
    }

    @Test func aBinaryMessageOnWsIsMalformedAndTheSessionGoesOn() async throws {
        let node = try await Self.startNode()
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            let web = try TestClient.accepted(port: webPort, name: "web", transport: .ws)
            try web.login("Binary")
            try web.sendWire(WebSocketWire.frame(WebSocketWire.Opcode.binary.rawValue, Array(Request.ping.utf8)))
            try web.expectError("Malformed message", requestAction: "")
            try web.call(Request.ping, "Pong")
        }
    }

    @Test func aFragmentedTextMessageIsReassembled() async throws {
        let node = try await Self.startNode()
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            let web = try TestClient.accepted(port: webPort, name: "web", transport: .ws)
            let ping = Array(Request.ping.utf8)
            try web.sendWire(WebSocketWire.frame(WebSocketWire.Opcode.text.rawValue, Array(ping[..<5]), fin: false)
                + WebSocketWire.frame(WebSocketWire.Opcode.ping.rawValue, [1, 2, 3])
                + WebSocketWire.frame(WebSocketWire.Opcode.continuation.rawValue, Array(ping[5..<9]), fin: false)
                + WebSocketWire.frame(WebSocketWire.Opcode.continuation.rawValue, Array(ping[9...])))
            try web.expect("Pong")
            let pong = web.webSocketFrames.first { $0.opcode == WebSocketWire.Opcode.pong.rawValue }
            #expect(pong?.payload == [1, 2, 3], "a ping inside a fragmented message is answered with its payload")
        }
    }

    @Test(arguments: [ClientTransport.ws, .xmlsocket])
    func aMessageOverTheFrameLimitClosesWith1009(transport: ClientTransport) async throws {
        let node = try await Self.startNode { $0.maxFrameBytes = 1024 }
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            let web = try TestClient.accepted(port: webPort, name: "web", transport: transport)
            try web.login("Big")
            try web.sendRaw(Array(Request.publicMessage(String(repeating: "x", count: 2000)).utf8) + [0])
            let frames = try web.expectClosed()
            #expect(frames.contains { $0.action == "Error" && $0.reason == "Message too large" })
            #expect(web.closeFrame?.closeCode == 1009)
        }
    }

    @Test func aFragmentedMessageGrowingOverTheLimitClosesWith1009() async throws {
        let node = try await Self.startNode { $0.maxFrameBytes = 1024 }
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            let web = try TestClient.accepted(port: webPort, name: "web", transport: .ws)
            let part = [UInt8](repeating: 0x61, count: 600)
            try web.sendWire(WebSocketWire.frame(WebSocketWire.Opcode.text.rawValue, part, fin: false)
                + WebSocketWire.frame(WebSocketWire.Opcode.continuation.rawValue, part, fin: false))
            try web.expectClosed()
            #expect(web.closeFrame?.closeCode == 1009)
        }
    }

    @Test(arguments: [
        ("an unmasked frame", WebSocketWire.frame(0x1, Array("<XmlDoc/>".utf8), masked: false)),
        ("a reserved bit", WebSocketWire.frame(0x1, Array("<XmlDoc/>".utf8), rsv: 4)),
        ("an unknown opcode", WebSocketWire.frame(0x3, [1])),
        ("a continuation with nothing to continue", WebSocketWire.frame(0x0, [1])),
        ("a fragmented ping", WebSocketWire.frame(0x9, [1], fin: false)),
    ])
    func aProtocolViolationClosesWith1002(_ what: String, bytes: [UInt8]) async throws {
        let node = try await Self.startNode()
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            let web = try TestClient.accepted(port: webPort, name: "web", transport: .ws)
            try web.login("Breaker")
            try web.sendWire(bytes)
            try web.expectClosed()
            #expect(web.closeFrame?.closeCode == 1002, "\(what)")
            // The node goes on: the name is free again and others connect.
            let next = try TestClient.accepted(port: webPort, name: "next", transport: .ws)
            try next.login("Breaker")
        }
    }

    @Test func aServerShutdownClosesWith1001() async throws {
        let node = try await Self.startNode()
        let webPort = try #require(node.webPort)
        let web = try await Task.detached {
            let client = try TestClient.accepted(port: webPort, name: "web", transport: .ws)
            try client.login("Leaver")
            return UncheckedBox(client)
        }.value
        await node.stop()
        try await onThreads(1) { _ in
            let frames = try web.value.expectClosed()
            #expect(frames.contains { $0.action == "Error" && $0.reason == "Server shutting down" })
            #expect(web.value.closeFrame?.closeCode == 1001)
        }
    }

    @Test func aClientCloseIsAnsweredAndEndsTheSession() async throws {
        let node = try await Self.startNode()
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            let web = try TestClient.accepted(port: webPort, name: "web", transport: .ws)
            try web.login("Closer")
            try web.sendWire(WebSocketWire.frame(WebSocketWire.Opcode.close.rawValue, [0x03, 0xE8]))
            try web.expectClosed()
            #expect(web.closeFrame?.closeCode == 1000)
            let again = try TestClient.accepted(port: node.port, name: "again")
            try again.login("Closer") // the name was freed at once
        }
    }

    @Test func anIdleWebSocketIsClosedAfterTheIdleTimeout() async throws {
        let node = try await Self.startNode { $0.idleTimeout = .milliseconds(300) }
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            let web = try TestClient.accepted(port: webPort, name: "web", transport: .ws)
            let frames = try web.expectClosed(timeout: 10)
            #expect(frames.contains { $0.action == "Error" && $0.reason == "Idle timeout" })
            #expect(web.closeFrame != nil)
        }
    }

    @Test func pingsAreAnsweredWithTheirPayload() async throws {
        let node = try await Self.startNode()
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            let web = try TestClient.accepted(port: webPort, name: "web", transport: .ws)
            try web.sendWire(WebSocketWire.frame(WebSocketWire.Opcode.ping.rawValue, Array("are you there".utf8)))
            try web.call(Request.ping, "Pong")
            let pong = web.webSocketFrames.first { $0.opcode == WebSocketWire.Opcode.pong.rawValue }
            #expect(pong.map { String(decoding: $0.payload, as: UTF8.self) } == "are you there")
        }
    }

    @Test func theXmlsocketPathAnswersTheFlashPolicyRequest() async throws {
        let node = try await Self.startNode()
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            let flash = try TestClient(port: webPort, name: "flash", transport: .xmlsocket)
            try flash.expect("ConnectionResponse")
            try flash.send("<policy-file-request/>")
            let frames = try flash.expectClosed()
            #expect(frames.contains { $0.raw.hasPrefix("<cross-domain-policy>") })
        }
    }
}

/// Hands a non-Sendable test client from one thread to another (used strictly in turn).
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
