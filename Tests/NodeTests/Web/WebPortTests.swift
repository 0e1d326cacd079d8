import ChorusTesting
import Foundation
import Node
import Testing

/// The web port's HTTP side (PROTOCOL.md section 8): the page, the origin check, and
/// answers to everything else.
@Suite(.serialized)
struct WebPortTests {
    private static let upgradeHeaders = [
        "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ]

    @Test func thePageIsServedAtTheRootWithAStrictContentPolicy() async throws {
        let node = try await InProcessNode.start { $0.httpPort = 0 }
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            let page = try HTTPProbe.request(port: webPort, "/")
            #expect(page.status == 200)
            #expect(page.header("Content-Type") == "text/html; charset=utf-8")
            #expect(page.header("Content-Security-Policy")?.contains("default-src 'none'") == true)
            #expect(page.body.contains("id=\"msg_txt\""))
            #expect(Int(page.header("Content-Length") ?? "") == page.body.utf8.count)
            let head = try HTTPProbe.request(port: webPort, "/", method: "HEAD")
            #expect(head.status == 200 && head.body.isEmpty)
        }
    }

    @Test func otherRequestsGetClearAnswers() async throws {
        let node = try await InProcessNode.start { $0.httpPort = 0 }
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            #expect(try HTTPProbe.request(port: webPort, "/nothing-here").status == 404)
            #expect(try HTTPProbe.request(port: webPort, "/", method: "POST", headers: ["Content-Length: 0"]).status == 405)
            let plain = try HTTPProbe.request(port: webPort, "/ws")
            #expect(plain.status == 426 && plain.header("Upgrade") == "websocket")
            let badVersion = try HTTPProbe.request(port: webPort, "/ws", headers: [
                "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 8", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            ])
            #expect(badVersion.status == 400)
            let garbage = try HTTPProbe.raw(port: webPort, Array("\u{1}\u{2}not http at all\r\n\r\n".utf8))
            #expect(garbage.status == 400)
            let huge = try HTTPProbe.request(port: webPort, "/", headers: ["X-Big: " + String(repeating: "a", count: 100_000)])
            #expect(huge.status == 400 || huge.status == 431, "an oversized header is refused: \(huge.head)")
        }
    }

    @Test func byDefaultOnlyThePagesOwnOriginMayOpenAWebSocket() async throws {
        let node = try await InProcessNode.start { $0.httpPort = 0 }
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            let foreign = try HTTPProbe.request(port: webPort, "/ws", headers: Self.upgradeHeaders + ["Origin: https://evil.example"])
            #expect(foreign.status == 403)
            let foreignStream = try HTTPProbe.request(port: webPort, "/xmlsocket", headers: Self.upgradeHeaders + ["Origin: http://localhost:1"])
            #expect(foreignStream.status == 403)
            // The page's own origin (the Host it was loaded from), and clients that are not pages.
            let own = try TestClient.accepted(port: webPort, name: "own", transport: .ws, origin: "http://127.0.0.1:\(webPort)")
            try own.call(Request.ping, "Pong")
            let tool = try TestClient.accepted(port: webPort, name: "tool", transport: .ws)
            try tool.call(Request.ping, "Pong")
        }
    }

    @Test func configuredOriginsAreAllowedAndOthersRefused() async throws {
        let node = try await InProcessNode.start {
            $0.httpPort = 0
            $0.webSocketOrigins = try! OriginPolicy(parsing: "https://chat.example.com, http://game.example:8000")
        }
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            let listed = try TestClient.accepted(port: webPort, name: "listed", transport: .xmlsocket, origin: "https://CHAT.example.com")
            try listed.call(Request.ping, "Pong")
            _ = try TestClient.accepted(port: webPort, name: "listed2", transport: .ws, origin: "http://game.example:8000")
            let own = try HTTPProbe.request(port: webPort, "/ws", headers: Self.upgradeHeaders + ["Origin: http://127.0.0.1:\(webPort)"])
            #expect(own.status == 403, "with a list, only the list")
        }
    }

    @Test func anyOriginWithAStar() async throws {
        let node = try await InProcessNode.start {
            $0.httpPort = 0
            $0.webSocketOrigins = .any
        }
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            let anyone = try TestClient.accepted(port: webPort, name: "anyone", transport: .ws, origin: "https://anywhere.example")
            try anyone.call(Request.ping, "Pong")
        }
    }

    @Test func aSilentHTTPConnectionIsClosed() async throws {
        let node = try await InProcessNode.start { $0.httpPort = 0 }
        defer { Task { await node.stop() } }
        let webPort = try #require(node.webPort)
        try await onThreads(1) { _ in
            // Half a request head, then nothing: the node closes within its request deadline.
            let client = try TestClient(port: webPort, name: "silent")
            try client.sendWire(Array("GET / HTTP/1.1\r\nHost: x\r\n".utf8))
            #expect(client.waitClosed(timeout: 15))
        }
    }
}
