import ChorusTesting
import Foundation
import Node
import Testing

/// Every connection gives back what it took (issue: ~840 bytes stayed behind per
/// connection, ~2 KB per `Server is full` denial): after 20,000 connections that were
/// accepted, denied, logged in, malformed or pinged, and closed, the node's live session
/// handlers return to their baseline.
@Suite(.serialized)
struct ConnectionLeakTests {
    static let heldOpen = 8

    @Test func sessionHandlersAreFreedAfterEveryKindOfConnection() async throws {
        // Earlier tests' nodes stop in the background: wait until their sessions are gone,
        // so that the baseline is not taken while some are still being freed.
        try #require(await eventually(timeout: .seconds(30)) { LiveObjects.sessions == 0 },
                     "sessions of earlier tests are still alive: \(LiveObjects.sessions)")
        let baseline = 0
        let node = try await InProcessNode.start { $0.maxConnections = Self.heldOpen + 4 }
        defer { Task { await node.stop() } }
        let port = node.port

        // 16,000 accepted connections of four kinds, four clients at a time.
        let kinds = ["nothing", "login", "malformed", "ping"]
        try await onThreads(4) { worker in
            for index in 0..<4_000 {
                try Self.cycle(kind: kinds[index % kinds.count], port: port, tag: "w\(worker)i\(index)")
            }
        }
        try #require(await eventually { LiveObjects.sessions == baseline },
                     "live sessions are back to \(baseline) after accepted connections (now \(LiveObjects.sessions))")

        // 4,000 denials while the node is full.
        try await onThreads(1) { _ in
            var held: [TestClient] = []
            for index in 0..<(Self.heldOpen + 4) {
                held.append(try TestClient(port: port, name: "holder\(index)"))
                _ = try held[index].expect("ConnectionResponse")
            }
            for index in 0..<4_000 {
                let client = try TestClient(port: port, name: "denied\(index)")
                let response = try client.expect("ConnectionResponse")
                guard response.result == "Denied" else {
                    throw TestFailure("connection \(index) of a full node was not denied: \(response.raw)")
                }
                client.close()
            }
            for client in held { client.close() }
        }
        try #require(await eventually { LiveObjects.sessions == baseline },
                     "live sessions are back to \(baseline) after denials (now \(LiveObjects.sessions))")
        await node.stop()
        #expect(LiveObjects.sessions == baseline)
    }

    /// One connection: read `ConnectionResponse`, do `kind`, wait for its answer, close.
    static func cycle(kind: String, port: Int, tag: String) throws {
        let client = try TestClient(port: port, name: tag)
        defer { client.close() }
        let response = try client.expect("ConnectionResponse")
        guard response.result == "Accepted" else { throw TestFailure("\(tag): not accepted: \(response.raw)") }
        switch kind {
        case "login":
            _ = try client.login("u\(tag)")
        case "malformed":
            try client.sendRaw(Array("<XmlDoc><Action>Ping</Action>".utf8) + [0])
            try client.expectError("Malformed message", requestAction: "")
        case "ping":
            _ = try client.call("<XmlDoc><Action>Ping</Action><Parameters/></XmlDoc>", "Pong")
        default:
            break
        }
    }
}
