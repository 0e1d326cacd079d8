import ChorusTesting
import Foundation
import Testing

/// PROTOCOL.md sections 1, 4 and 7: connection limits, idle timeout, Flash socket policy.
@Suite("Limits", .nodeGate)
struct LimitTests {
    static let denied = "<XmlDoc><Action>ConnectionResponse</Action><Parameters><Result>Denied</Result><Reason>Server is full</Reason></Parameters></XmlDoc>"

    /// Connects until a connection is accepted (an earlier close is released asynchronously).
    private func connectWhenFree(_ node: NodeProcess, timeout: Double = 5) throws -> TestClient {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let client = try TestClient(port: node.port, name: "retry", node: node)
            let response = try client.expect("ConnectionResponse")
            if response.result == "Accepted" { return client }
            try client.expectClosed()
            guard Date() < deadline else { throw TestFailure("no connection accepted within \(timeout) s after one closed") }
            usleep(20_000)  // polling politely: the node ends the closed session on its own time
        }
    }

    @Test("--max-connections 2: a third connection gets ConnectionResponse Denied Server is full, then is closed")
    func maxConnections() throws {
        let node = try NodeProcess.start(["--max-connections", "2"])
        let first = try TestClient(node, name: "first")
        try first.login("First")
        let second = try TestClient(node, name: "second")  // connected, not logged in: counts too
        let third = try TestClient(port: node.port, name: "third", node: node)
        let response = try third.next()
        #expect(response.raw == Self.denied)
        let rest = try third.expectClosed()
        #expect(rest.isEmpty, "after Denied: \(rest.map(\.raw))")

        // The admitted sessions are unaffected.
        try first.send(Request.ping)
        try first.expect("Pong")
        try second.send(Request.ping)
        try second.expect("Pong")

        // A slot frees up when a session ends.
        first.close()
        let again = try connectWhenFree(node)
        try again.login("Third")
    }

    @Test("--max-connections-per-ip 1: a second connection from the same address is denied")
    func maxConnectionsPerAddress() throws {
        let node = try NodeProcess.start(["--max-connections-per-ip", "1"])
        let first = try TestClient(node, name: "first")
        try first.login("Solo")
        let second = try TestClient(port: node.port, name: "second", node: node)
        #expect(try second.next().raw == Self.denied)
        try second.expectClosed()
        try first.send(Request.ping)
        try first.expect("Pong")

        first.close()
        let again = try connectWhenFree(node)
        try again.login("Duo")
    }

    @Test("--idle-timeout 1: an idle connection is closed; one that sends Ping stays")
    func idleTimeout() throws {
        let node = try NodeProcess.start(["--idle-timeout", "1"])
        let started = Date()
        let idle = try TestClient(node, name: "idle")
        try idle.login("Idle")
        let pinger = try TestClient(node, name: "pinger")
        try pinger.login("Pinger")

        // The pinger stays active for 3 s, well past the timeout.
        while Date().timeIntervalSince(started) < 3 {
            try pinger.send(Request.ping)
            try pinger.expect("Pong")
            usleep(300_000)  // activity every 0.3 s, under the 1 s timeout
        }
        let last = try idle.expectClosed(timeout: 3)
        #expect(last.map(\.reason) == ["Idle timeout"], "the idle client is told why: \(last.map(\.raw))")
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed >= 0.9, "closed after \(elapsed) s, before the timeout")
        try pinger.send(Request.ping)
        try pinger.expect("Pong")
    }

    @Test("A name is free once the node has ended its session: as soon as its connection slot is free, the name is too")
    func nameFreeWithSlot() throws {
        // With one connection per address, a new connection being accepted shows that the node
        // has ended the previous session; PROTOCOL.md section 3: "its name is free again at once".
        let node = try NodeProcess.start(["--max-connections-per-ip", "1"])
        var client = try TestClient(node, name: "Racer#0")
        try client.login("Racer")
        for round in 1...50 {
            client.close()
            client = try connectWhenFree(node)
            try client.send(Request.login("Racer"))
            let first = try client.next()
            #expect(first.action == "RoomList", "round \(round): \(first.raw)")
            guard first.action == "RoomList" else { return }
            try client.expect("LoginResponse", result: "Accepted")
        }
    }

    static func policy(port: Int) -> String {
        #"<cross-domain-policy><allow-access-from domain="*" to-ports="\#(port)"/></cross-domain-policy>"#
    }

    @Test("Flash policy on the client port: <policy-file-request/> → cross-domain policy with to-ports, then close")
    func policyOnClientPort() throws {
        let node = try NodeProcess.start()
        let flash = try TestClient(port: node.port, name: "flash", node: node)
        try flash.sendRaw(Array("<policy-file-request/>".utf8) + [0])
        var frame = try flash.next()
        if frame.action == "ConnectionResponse" { frame = try flash.next() }  // sent on connect, before the request arrives
        #expect(frame.raw == Self.policy(port: node.port))
        let rest = try flash.expectClosed()
        #expect(rest.isEmpty, "after the policy: \(rest.map(\.raw))")

        // Only as the first frame: later, it is not a policy request.
        let client = try TestClient(node, name: "later")
        try client.send(Request.ping)
        try client.expect("Pong")
        try client.send("<policy-file-request/>")
        let error = try client.expect("Error")
        #expect(error.reason == "Malformed message", "\(error.raw)")
        try client.send(Request.ping)
        try client.expect("Pong")
    }

    @Test("--policy-port serves the same policy (to-ports = the client port) and nothing else")
    func policyPort() throws {
        let policyPort = try freePort()
        let node = try NodeProcess.start(["--policy-port", String(policyPort), "--policy-domain", "*"])
        let flash = try TestClient(port: policyPort, name: "flash", node: node)
        try flash.sendRaw(Array("<policy-file-request/>".utf8) + [0])
        let frame = try flash.next()
        #expect(frame.raw == Self.policy(port: node.port))
        let rest = try flash.expectClosed()
        #expect(rest.isEmpty, "after the policy: \(rest.map(\.raw))")

        // Anything else is just closed, with no answer.
        let other = try TestClient(port: policyPort, name: "other", node: node)
        try other.send(Request.login("Nope"))
        #expect(try other.expectClosed().isEmpty)
    }

    @Test("--policy-domain changes the allowed domain")
    func policyDomain() throws {
        let node = try NodeProcess.start(["--policy-domain", "example.com"])
        let flash = try TestClient(port: node.port, name: "flash", node: node)
        try flash.sendRaw(Array("<policy-file-request/>".utf8) + [0])
        let frame = try flash.waitFor("the policy") { $0.action != "ConnectionResponse" }
        #expect(frame.raw == #"<cross-domain-policy><allow-access-from domain="example.com" to-ports="\#(node.port)"/></cross-domain-policy>"#)
    }
}
