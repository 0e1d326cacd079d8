import ChorusTesting
import Foundation
import Testing

/// `/metrics` (PROTOCOL.md section 9, README "Metrics"): each metric moves when its event
/// happens, read the way Prometheus reads it.
@Suite("Metrics", .nodeGate)
struct MetricsTests {
    static let tcp = ["transport": "tcp"]

    @Test("Connect, log in, chat across two nodes, fail, disconnect: connections, sessions, rooms, frames, messages, round trips, lag, errors")
    func sessionLife() async throws {
        try await NodeCluster.with(nodes: 2, arguments: ["--admin-port", "0"]) { cluster in
            let one = cluster[0]
            let two = cluster[1]
            try eventuallyMetrics(one, "rooms = 1 (Lobby)") { $0.value("chorus_rooms") == 1 }

            let alice = try cluster.client(0, "alice")
            try eventuallyMetrics(one, "one TCP connection open") {
                $0.value("chorus_connections_open", Self.tcp) == 1 && $0.value("chorus_connections_accepted_total") == 1
            }
            try alice.login("alice")
            try eventuallyMetrics(one, "one session logged in, one login round trip") {
                $0.value("chorus_sessions_logged_in") == 1
                    && $0.value("chorus_cluster_roundtrip_seconds_count", ["operation": "login"]) == 1
            }
            try alice.joinRoom("Lobby")
            let bob = try cluster.loggedIn(1, "bob")
            try bob.joinRoom("Lobby")
            try alice.expect("UpdateUserList", minor: "UserJoined")

            let beforeOne = try scrape(one)
            let beforeTwo = try scrape(two)
            #expect(beforeOne.value("chorus_cluster_roundtrip_seconds_count", ["operation": "join"]) == 1)
            #expect(beforeTwo.value("chorus_delivery_lag_seconds_count") == 0)

            try alice.send(Request.publicMessage("hello"))
            #expect(try bob.expect("SendPublicMessage").message == "hello")
            #expect(try alice.expect("SendPublicMessage").message == "hello")
            let afterOne = try eventuallyMetrics(one, "the message published, and delivered to alice") {
                $0.value("chorus_messages_published_total", ["kind": "public"]) == 1
                    && $0.value("chorus_messages_delivered_total", ["kind": "public"]) == 1
                    && ($0.value("chorus_cluster_roundtrip_seconds_count", ["operation": "publish"]) ?? 0) >= 1
            }
            #expect(afterOne.value("chorus_frames_received_total")! > beforeOne.value("chorus_frames_received_total")!)
            #expect(afterOne.value("chorus_frames_sent_total")! > beforeOne.value("chorus_frames_sent_total")!)
            let afterTwo = try eventuallyMetrics(two, "the message delivered to bob, its lag observed") {
                $0.value("chorus_messages_delivered_total", ["kind": "public"]) == 1
                    && $0.value("chorus_delivery_lag_seconds_count") == 1
            }
            let lag = afterTwo.value("chorus_delivery_lag_seconds_sum") ?? -1
            #expect(lag >= 0 && lag < 5, "lag \(lag) s")
            #expect(afterTwo.value("chorus_delivery_lag_seconds_bucket", ["le": "+Inf"]) == 1)

            try alice.send(Request.privateMessage(to: ["bob"], "psst"))
            #expect(try bob.expect("SendPrivateMessage").message == "psst")
            try eventuallyMetrics(one, "a private message published") { $0.value("chorus_messages_published_total", ["kind": "private"]) == 1 }
            try eventuallyMetrics(two, "a private message delivered") { $0.value("chorus_messages_delivered_total", ["kind": "private"]) == 1 }

            // A refusal, counted by its reason.
            try bob.send(Request.createRoom("Lobby"))
            try bob.expect("CreateRoom", result: "Failure", reason: "Room already exists")
            try eventuallyMetrics(two, "errors_total{reason=Room already exists} = 1") {
                $0.value("chorus_errors_total", ["reason": "Room already exists"]) == 1
            }

            try alice.send(Request.leaveRoom)
            try alice.expect("LeaveRoom", result: "Success")
            try eventuallyMetrics(one, "one leave round trip") {
                $0.value("chorus_cluster_roundtrip_seconds_count", ["operation": "leave"]) == 1
            }

            alice.close()
            try eventuallyMetrics(one, "no connection, no session") {
                $0.value("chorus_connections_open", Self.tcp) == 0 && $0.value("chorus_sessions_logged_in") == 0
            }
            #expect(try scrape(one).value("chorus_cluster_available") == 1)
        }
    }

    @Test("Connections are counted by transport: tcp, ws, xmlsocket")
    func byTransport() throws {
        let node = try NodeProcess.start(["--admin-port", "0"], web: true)
        let webPort = try #require(node.webPort)
        let tcp = try TestClient.accepted(port: node.port, name: "tcp")
        let ws = try TestClient.accepted(port: webPort, name: "ws", transport: .ws)
        let stream = try TestClient.accepted(port: webPort, name: "stream", transport: .xmlsocket)
        try ws.login("webby")
        try eventuallyMetrics(node, "one connection per transport, one session") { metrics in
            ["tcp", "ws", "xmlsocket"].allSatisfy { metrics.value("chorus_connections_open", ["transport": $0]) == 1 }
                && metrics.value("chorus_sessions_logged_in") == 1
        }
        ws.close()
        try eventuallyMetrics(node, "the WebSocket session gone, the others open") { metrics in
            metrics.value("chorus_connections_open", ["transport": "ws"]) == 0
                && metrics.value("chorus_connections_open", ["transport": "xmlsocket"]) == 1
                && metrics.value("chorus_connections_open", Self.tcp) == 1
                && metrics.value("chorus_sessions_logged_in") == 0
        }
        withExtendedLifetime((tcp, stream)) {}
    }

    @Test("A malformed frame counts once as malformed and once as an error of its reason")
    func malformed() throws {
        let node = try NodeProcess.start(["--admin-port", "0"])
        let client = try TestClient(node)
        try client.send("<XmlDoc><Action>Login</Action><Parameters>")
        try client.expectError("Malformed message", requestAction: "")
        try eventuallyMetrics(node, "malformed = 1") {
            $0.value("chorus_malformed_frames_total") == 1 && $0.value("chorus_errors_total", ["reason": "Malformed message"]) == 1
        }
    }

    @Test("Flooding: each refusal counts as a flood refusal and as an error Flooding")
    func flood() throws {
        let node = try NodeProcess.start(["--admin-port", "0", "--rooms", "Lobby", "--flood-rate", "0.01", "--flood-burst", "2"])
        let client = try TestClient(node)
        try client.login("flooder")
        try client.joinRoom("Lobby")
        var batch: [UInt8] = []
        for index in 0..<5 { batch += Array(Request.publicMessage("m\(index)").utf8) + [0] }
        try client.sendRaw(batch)
        var refused = 0
        for _ in 0..<5 where try client.next().reason == "Flooding" { refused += 1 }
        #expect(refused >= 2)
        try eventuallyMetrics(node, "\(refused) flood refusals") {
            $0.value("chorus_flood_refusals_total") == Double(refused)
                && $0.value("chorus_errors_total", ["reason": "Flooding"]) == Double(refused)
        }
    }

    @Test("An idle session closed by the node counts")
    func idle() throws {
        let node = try NodeProcess.start(["--admin-port", "0", "--idle-timeout", "0.5"])
        let client = try TestClient(node)
        _ = try client.expectClosed(timeout: 10)
        try eventuallyMetrics(node, "one idle session closed") {
            $0.value("chorus_idle_sessions_closed_total") == 1 && $0.value("chorus_errors_total", ["reason": "Idle timeout"]) == 1
        }
    }

    @Test("A slow reader cut by the node counts, and its connection is no longer open")
    func slowReader() throws {
        let node = try NodeProcess.start([
            "--admin-port", "0", "--rooms", "Lobby", "--flood-rate", "1000000", "--flood-burst", "1000000",
            "--max-outbound-bytes", "65536",
        ])
        let flooder = try TestClient(node, name: "Flooder")
        try flooder.login("Flooder")
        try flooder.joinRoom("Lobby")
        let sloth = try TestClient(node, name: "Sloth", receiveBuffer: 4096)
        try sloth.login("Sloth")
        try sloth.joinRoom("Lobby")
        try flooder.waitFor("UserJoined Sloth") { $0.action == "UpdateUserList" && $0.userName == "Sloth" }
        // From here on, Sloth never reads.
        let text = String(repeating: "x", count: 3900)
        var cut = false
        for _ in 0..<6000 where !cut {
            try flooder.send(Request.publicMessage(text))
            for frame in try flooder.drainAvailable() where frame.action == "UpdateUserList" && frame.minorAction == "UserLeft" {
                cut = true
            }
        }
        #expect(cut, "Sloth was never cut")
        try eventuallyMetrics(node, "one slow reader cut, one connection left") {
            $0.value("chorus_slow_readers_cut_total") == 1 && $0.value("chorus_connections_open", Self.tcp) == 1
        }
        withExtendedLifetime(sloth) {}
    }
}
