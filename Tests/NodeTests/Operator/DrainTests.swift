import ChorusTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Graceful drain (PROTOCOL.md section 9): SIGTERM turns `/ready` 503 at once and stops new
/// clients; sessions go on for `--drain-seconds`, then are closed; the node exits 0.
@Suite("Drain", .nodeGate)
struct DrainTests {
    /// Whether a new TCP connection to `port` is refused.
    static func refuses(_ port: Int) -> Bool {
        guard let fd = try? Socket.makeTCP() else { return false }
        defer { Socket.close(fd) }
        return Socket.connect(fd, port: port) != 0
    }

    @Test("SIGTERM: /ready 503 at once, new clients refused, connected clients chat on; then closed, exit 0")
    func drain() throws {
        let node = try NodeProcess.start(["--admin-port", "0", "--drain-seconds", "3", "--rooms", "Lobby"])
        let admin = try node.adminPort()
        let alice = try TestClient(node, name: "alice")
        try alice.login("alice")
        try alice.joinRoom("Lobby")
        let bob = try TestClient(node, name: "bob")
        try bob.login("bob")
        try bob.joinRoom("Lobby")
        try alice.expect("UpdateUserList", minor: "UserJoined")
        #expect(try OperatorPort.get(admin, "/ready").status == 200)

        let signalled = Date()
        node.signal(SIGTERM)
        #expect(eventuallyBlocking(timeout: 2) { OperatorPort.status(admin, "/ready") == 503 })
        #expect(try OperatorPort.get(admin, "/ready").body.contains("draining"))
        #expect(try OperatorPort.get(admin, "/health").status == 200)
        #expect(eventuallyBlocking(timeout: 2) { Self.refuses(node.port) }, "a new client was still accepted while draining")

        // The sessions go on: a message, an answer.
        try alice.send(Request.publicMessage("still here"))
        #expect(try bob.expect("SendPublicMessage").message == "still here")
        let count = try bob.call(Request.getLoggedInUserCount, "GetLoggedInUserCount")
        #expect(count.param("LoggedInUsers") == "2")
        #expect(Date().timeIntervalSince(signalled) < 3, "the checks above took longer than the drain")

        for client in [alice, bob] {
            let last = try client.expectClosed(timeout: 8)
            #expect(last.filter { $0.action == "Error" }.map(\.reason) == ["Server shutting down"], "\(client.name): \(last.map(\.raw))")
        }
        #expect(Date().timeIntervalSince(signalled) >= 2.9, "sessions were closed before the drain ended")
        let status = node.waitForExit(timeout: 10)
        #expect(status == 0, "exit status \(String(describing: status)); log:\n\(node.logTail())")
    }

    @Test("The web port drains too: new browsers refused, a WebSocket session chats on until the end")
    func drainWeb() throws {
        let node = try NodeProcess.start(["--admin-port", "0", "--drain-seconds", "3", "--rooms", "Lobby"], web: true)
        let webPort = try #require(node.webPort)
        let web = try TestClient.accepted(port: webPort, name: "web", transport: .ws)
        try web.login("webby")
        try web.joinRoom("Lobby")
        let tcp = try TestClient(node, name: "tcp")
        try tcp.login("tcpy")
        try tcp.joinRoom("Lobby")
        try web.expect("UpdateUserList", minor: "UserJoined")
        node.signal(SIGTERM)
        #expect(eventuallyBlocking(timeout: 2) { Self.refuses(webPort) }, "a new browser was still accepted while draining")
        try web.send(Request.publicMessage("from the browser"))
        #expect(try tcp.expect("SendPublicMessage").message == "from the browser")
        let last = try web.expectClosed(timeout: 8)
        #expect(last.map(\.reason).contains("Server shutting down"), "\(last.map(\.raw))")
        #expect(node.waitForExit(timeout: 10) == 0)
    }

    @Test("A second signal during the drain (SIGINT, or SIGTERM again) stops the node at once",
          arguments: [SIGINT, SIGTERM])
    func secondSignal(_ second: Int32) throws {
        let node = try NodeProcess.start(["--admin-port", "0", "--drain-seconds", "60"])
        let admin = try node.adminPort()
        let client = try TestClient(node)
        try client.login("waiting")
        node.signal(SIGTERM)
        #expect(eventuallyBlocking(timeout: 2) { OperatorPort.status(admin, "/ready") == 503 })
        #expect(node.isRunning)
        node.signal(second)
        let last = try client.expectClosed(timeout: 10)
        #expect(last.map(\.reason).contains("Server shutting down"))
        #expect(node.waitForExit(timeout: 10) == 0, "log:\n\(node.logTail())")
    }

    @Test("SIGINT stops at once, without draining; SIGTERM with no client left stops at once too")
    func noDrain() throws {
        let interrupted = try NodeProcess.start(["--drain-seconds", "60"])
        let client = try TestClient(interrupted)
        try client.login("someone")
        interrupted.signal(SIGINT)
        _ = try client.expectClosed(timeout: 10)
        #expect(interrupted.waitForExit(timeout: 10) == 0)

        let empty = try NodeProcess.start(["--drain-seconds", "60"])
        #expect(try empty.stop(timeout: 10) == 0, "an empty node waited out its drain")
    }

    @Test("Drain on a cluster: the draining node's users stay visible to the others until it stops, then leave; names are free")
    func drainInCluster() async throws {
        try await NodeCluster.with(nodes: 2, arguments: ["--admin-port", "0", "--drain-seconds", "2"]) { cluster in
            let alice = try cluster.loggedIn(0, "alice")
            try alice.joinRoom("Lobby")
            let carol = try cluster.loggedIn(1, "carol")
            try carol.joinRoom("Lobby")
            try alice.expect("UpdateUserList", minor: "UserJoined")
            cluster[0].signal(SIGTERM)
            #expect(eventuallyBlocking(timeout: 2) { OperatorPort.status((try? cluster[0].adminPort()) ?? 0, "/ready") == 503 })
            try alice.send(Request.publicMessage("draining"))
            #expect(try carol.expect("SendPublicMessage").message == "draining")
            _ = try alice.expectClosed(timeout: 10)
            try carol.waitForUserListChange("UserLeft", "alice")
            #expect(cluster[0].waitForExit(timeout: 10) == 0)
            _ = try cluster.loggedIn(1, "alice")
        }
    }
}
