import ChorusTesting
import Foundation
import Testing

/// scripts/cluster.sh: Redis, three debug chorus-nodes with --proxy-protocol and HAProxy with
/// deploy/haproxy.cfg, on free loopback ports. Clients connect only through HAProxy.
@Suite("Local cluster through HAProxy (scripts/cluster.sh)", .serialized)
struct ClusterScriptTests {
    @Test("clients spread over the nodes, see one cluster, and fail over when a node stops")
    func spreadShareAndFailOver() async throws {
        let cluster = try await LocalCluster.start(nodes: 3, extraArguments: ["--keep-going"])
        var clients: [TestClient] = []
        do {
            try await scenario(cluster, &clients)
        } catch {
            Issue.record(error, "scenario failed; cluster.sh output:\n\(cluster.script.log)\nhaproxy.log:\n\(haproxyLog(cluster))")
        }
        for client in clients { client.close() }

        let (status, leftovers) = await cluster.stop()
        #expect(status == 143, "cluster.sh should exit 143 after SIGTERM; output:\n\(cluster.script.log)")
        #expect(leftovers.isEmpty, "still running after cluster.sh stopped: \(leftovers)")
        #expect(!FileManager.default.fileExists(atPath: cluster.runDirectory.appendingPathComponent("cluster.env").path))
        try? FileManager.default.removeItem(at: cluster.runDirectory)
    }

    private func haproxyLog(_ cluster: LocalCluster) -> String {
        (try? String(contentsOf: cluster.runDirectory.appendingPathComponent("haproxy.log"), encoding: .utf8)) ?? ""
    }

    private func scenario(_ cluster: LocalCluster, _ clients: inout [TestClient]) async throws {
        let port = cluster.clientPort
        #expect(cluster.nodeCount == 3)

        // HAProxy's servers are the script's nodes, and its health check (PROXY header,
        // then ConnectionResponse Accepted) passes on each: L7OK, not a mere L4 connect.
        let serverPorts = try await cluster.serverPorts()
        #expect(serverPorts == ["node1": cluster.nodePort(1), "node2": cluster.nodePort(2), "node3": cluster.nodePort(3)])
        let healthy = try await eventually(timeout: .seconds(15), every: .milliseconds(200)) { () -> [String: (status: String, check: String)]? in
            let states = try await cluster.serverStates()
            let ok = states.count == 3 && states.values.allSatisfy { $0.status == "UP" && $0.check == "L7OK" }
            if !ok { throw TestFailure("HAProxy's servers are not all UP with L7OK: \(states)") }
            return states
        }
        #expect(healthy.count == 3)
        // No session left from start-up, so leastconn sends three clients to three nodes.
        _ = try await eventually(timeout: .seconds(10), every: .milliseconds(200)) { () -> Bool? in
            let stat = try await cluster.haproxy("show stat")
            let busy = stat.split(separator: "\n").filter { $0.hasPrefix("chorus_nodes,node") }
                .contains { $0.split(separator: ",", omittingEmptySubsequences: false)[4] != "0" }
            return busy ? nil : true
        }

        let alice = try TestClient.loggedIn(port: port, name: "alice")
        clients.append(alice)
        let bob = try TestClient.loggedIn(port: port, name: "bob")
        clients.append(bob)
        let carol = try TestClient.loggedIn(port: port, name: "carol")
        clients.append(carol)

        // Where each client landed, by its source port in HAProxy's `show sess`.
        let placement = try await eventually(timeout: .seconds(5), every: .milliseconds(200)) { () -> [String: String]? in
            let sessions = try await cluster.serverForClientPorts()
            var placed: [String: String] = [:]
            for client in [alice, bob, carol] {
                guard let local = client.localPort, let server = sessions[local] else { return nil }
                placed[client.name] = server
            }
            return placed
        }
        #expect(Set(placement.values).count == 3, "clients should be on three different nodes: \(placement)")

        // One room list: a room created on alice's node reaches bob's and carol's.
        try alice.request("CreateRoom", "<Zone><Name></Name><Room><Name>DeployRoom</Name><Description>made behind HAProxy</Description></Room></Zone>")
        _ = try alice.next(action: "CreateRoom", containing: ["<Result>Success</Result>"])
        _ = try alice.next(action: "JoinRoom", containing: ["<Result>Success</Result>"])
        for other in [bob, carol] {
            _ = try other.next(action: "UpdateRoomList", timeout: 10,
                                     containing: ["<MinorAction>CreateRoom</MinorAction>", "<Name>DeployRoom</Name>"])
        }
        try carol.request("GetRoomsInZone", "<Zone>Chat</Zone>")
        _ = try carol.next(action: "GetRoomsInZone", containing: ["<Name>DeployRoom</Name>"])

        // One user list: bob joins from another node and sees alice; alice sees bob arrive.
        try bob.request("JoinRoom", "<Zone><Name>Chat</Name><Room><Name>DeployRoom</Name><Password></Password></Room></Zone>")
        _ = try bob.next(action: "JoinRoom", timeout: 10,
                               containing: ["<Result>Success</Result>", "<Name>alice</Name>", "<Name>bob</Name>"])
        _ = try alice.next(action: "UpdateUserList", timeout: 10,
                                 containing: ["<MinorAction>UserJoined</MinorAction>", "<Name>bob</Name>"])
        try carol.request("GetLoggedInUserCount")
        _ = try carol.next(action: "GetLoggedInUserCount", containing: ["<LoggedInUsers>3</LoggedInUsers>"])

        // Browsers come in through HAProxy's web port: the page, and a WebSocket session in
        // the same room as the TCP users of other nodes.
        let page = try HTTPProbe.request(port: cluster.webPort, "/")
        #expect(page.status == 200 && page.body.contains("msg_txt"))
        let wendy = try TestClient.loggedIn(port: cluster.webPort, name: "wendy", transport: .ws)
        clients.append(wendy)
        try wendy.request("JoinRoom", "<Zone><Name>Chat</Name><Room><Name>DeployRoom</Name><Password></Password></Room></Zone>")
        _ = try wendy.next(action: "JoinRoom", timeout: 10, containing: ["<Result>Success</Result>", "<Name>alice</Name>", "<Name>bob</Name>"])
        _ = try alice.next(action: "UpdateUserList", timeout: 10, containing: ["<MinorAction>UserJoined</MinorAction>", "<Name>wendy</Name>"])
        _ = try bob.next(action: "UpdateUserList", timeout: 10, containing: ["<MinorAction>UserJoined</MinorAction>", "<Name>wendy</Name>"])
        try wendy.send(Request.publicMessage("hi from the web port"))
        _ = try bob.next(action: "SendPublicMessage", timeout: 10, containing: ["hi from the web port", "<User>wendy</User>"])
        try bob.send(Request.publicMessage("hi back over TCP"))
        _ = try wendy.next(action: "SendPublicMessage", timeout: 10, containing: ["hi back over TCP", "<User>bob</User>"])

        // Stop bob's node. Its PID comes from the script's cluster.env.
        let stopped = try #require(placement["bob"])
        let stoppedIndex = try #require(Int(stopped.dropFirst("node".count)))
        sendSignal(SIGTERM, to: cluster.nodePID(stoppedIndex))

        // The node drains (--drain-seconds 5): its /ready answers 503 and its client port is
        // closed. Every new client gets in at the first attempt meanwhile: HAProxy sends what
        // the closed port refuses to another node, and soon sends nothing there.
        #expect(await eventually(timeout: .seconds(3)) {
            OperatorPort.status(cluster.adminPort(stoppedIndex), "/ready") == 503
        })
        for index in 0..<12 {
            let newcomer = try TestClient.loggedIn(port: port, name: "newcomer\(index)", timeout: 5)
            clients.append(newcomer)
        }
        let drainingState = try await eventually(timeout: .seconds(5), every: .milliseconds(100)) { () -> String? in
            let status = try await cluster.serverStates()[stopped]?.status
            return status?.hasPrefix("DOWN") == true ? status : nil
        }
        #expect(drainingState.hasPrefix("DOWN"), "HAProxy follows /ready")
        // bob's session goes on while its node drains.
        try bob.request("Ping")
        _ = try bob.next(action: "Pong")

        // The node-side fact behind `show sess`: bob's session ends with that node; alice's
        // and carol's do not, and alice sees bob leave (the stopped node took its sessions
        // out of the cluster).
        #expect(bob.waitClosed(timeout: 15), "bob's connection should end with its node")
        _ = try alice.next(action: "UpdateUserList", timeout: 15,
                                 containing: ["<MinorAction>UserLeft</MinorAction>", "<Name>bob</Name>"])
        for survivor in [alice, carol] {
            try survivor.request("Ping")
            _ = try survivor.next(action: "Pong")
        }

        // New clients still get in through HAProxy, on the remaining nodes; bob's name is
        // free again.
        for name in ["bob", "dave", "erin"] {
            let client = try await eventually(timeout: .seconds(10), every: .milliseconds(200)) { () -> TestClient? in
                try TestClient.loggedIn(port: port, name: name, timeout: 3)
            }
            clients.append(client)
            let server = try await eventually(timeout: .seconds(5), every: .milliseconds(200)) { () -> String? in
                guard let local = client.localPort else { return nil }
                return try await cluster.serverForClientPorts()[local]
            }
            #expect(server != stopped, "\(name) was sent to the stopped \(stopped)")
        }

        // And the health check has noticed.
        let down = try await eventually(timeout: .seconds(10), every: .milliseconds(200)) { () -> String? in
            let status = try await cluster.serverStates()[stopped]?.status
            guard let status, status.hasPrefix("DOWN") else { throw TestFailure("\(stopped) is \(status ?? "missing"), not DOWN") }
            return status
        }
        #expect(down.hasPrefix("DOWN"))
        #expect(cluster.script.isRunning, "with --keep-going the cluster outlives one node")
    }

    @Test("without --keep-going, the death of one node stops the whole cluster")
    func oneDeathStopsAll() async throws {
        let cluster = try await LocalCluster.start(nodes: 2)
        sendSignal(SIGTERM, to: cluster.nodePID(2))
        let status = await cluster.script.waitForExit(timeout: .seconds(30))
        #expect(status == 1, "cluster.sh should stop by itself with status 1; output:\n\(cluster.script.log)")
        let (_, leftovers) = await cluster.stop()
        #expect(leftovers.isEmpty, "still running after cluster.sh stopped: \(leftovers)")
        #expect(cluster.script.log.contains("node2 exited; stopping the cluster"))
        try? FileManager.default.removeItem(at: cluster.runDirectory)
    }
}
