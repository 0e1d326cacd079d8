import ChorusTesting
import Foundation
import Testing

/// deploy/docker-compose.yml, really started: the images built from deploy/ on a Debian base
/// this machine can have, Redis, three node containers and HAProxy, clients through HAProxy's
/// published ports, a node container killed, the nodes scaled, and everything taken down.
///
/// Needs a Docker engine: it uses the one that answers, or starts dockerd (root) and stops it
/// at the end; installs docker.io, docker-compose and debootstrap when missing. The node
/// image is the `prebuilt` target with deploy/prebuilt/chorus-node, which
/// `scripts/build-node-static.sh --debug` makes (scripts/test.sh runs it). Images stay in the
/// engine (tag `test`) to make the next run fast; containers, networks and volumes do not.
/// CHORUS_SKIP_COMPOSE=1 skips the test, on machines where no engine can run.
@Suite("docker-compose cluster (deploy/docker-compose.yml)", .serialized)
struct ComposeTests {
    static let skipped = ProcessInfo.processInfo.environment["CHORUS_SKIP_COMPOSE"] == "1"

    @Test("built and started by compose: chat across two node containers through HAProxy (TCP and WebSocket), a killed node's user leaves within 10 s, --scale is followed, down leaves nothing",
          .disabled(if: skipped, "CHORUS_SKIP_COMPOSE=1"))
    func composeCluster() async throws {
        let started = ContinuousClock.now
        guard FileManager.default.isExecutableFile(atPath: ComposeProject.prebuiltNode) else {
            throw TestFailure("compose test: \(ComposeProject.prebuiltNode) is missing: run scripts/build-node-static.sh --debug (scripts/test.sh does), or set CHORUS_SKIP_COMPOSE=1")
        }
        let engine = try await DockerEngine.start()
        var timings: [String] = ["engine \(ContinuousClock.now - started)"]
        do {
            let base = try await ComposeProject.baseImage()
            timings.append("base image \(base) \(ContinuousClock.now - started)")
            let project = ComposeProject(engine: engine, baseImage: base)
            try await withCleanup {
                do {
                    try await project.composeOK(["build"], timeout: .seconds(600))
                    timings.append("built \(ContinuousClock.now - started)")
                    try await project.composeOK(["up", "-d"], timeout: .seconds(300))
                    timings.append("up \(ContinuousClock.now - started)")
                    try await scenario(project)
                    timings.append("scenario \(ContinuousClock.now - started)")
                } catch {
                    Issue.record(error, "compose project \(project.name):\n\(await project.logs())")
                }
            } cleanup: {
                let (output, leftovers) = await project.down()
                #expect(leftovers.isEmpty, "left behind by `down -v`: \(leftovers)\n\(output)")
            }
            timings.append("down \(ContinuousClock.now - started)")
        } catch {
            await engine.stop()
            throw error
        }
        await engine.stop()
        if let daemon = engine.daemon {
            #expect(!daemon.isRunning, "the dockerd this test started (pid \(daemon.pid)) is still running")
        }
        print("compose test timings: \(timings.joined(separator: ", "))")
    }

    /// Joins `room`, skipping whatever arrives before the answer (room list updates).
    private func join(_ client: TestClient, _ room: String) throws {
        try client.send(Request.joinRoom(room))
        _ = try client.next(action: "JoinRoom", timeout: 10, containing: ["<Result>Success</Result>"])
    }

    private func scenario(_ project: ComposeProject) async throws {
        let port = try await project.publishedPort("haproxy", 9875)
        let webPort = try await project.publishedPort("haproxy", 8080)

        // HAProxy found the three nodes by DNS, and its checks pass on both ports.
        _ = try await eventually(timeout: .seconds(60), every: .milliseconds(500)) { () -> Bool? in
            let up = try await project.serversUp()
            return up["chorus_nodes"]?.count == 3 && up["chorus_web_nodes"]?.count == 3 ? true : nil
        }
        let nodes = try await project.nodeIDs()
        #expect(nodes.count == 3, "node ids from the node logs: \(nodes)")

        var clients: [TestClient] = []
        defer { for client in clients { client.close() } }

        // Two clients on two different node containers (leastconn spreads them; Redis says
        // where each session is).
        let alice = try TestClient.loggedIn(port: port, name: "alice")
        clients.append(alice)
        let aliceNode = try await eventually(timeout: .seconds(10), every: .milliseconds(200)) {
            try await project.nodeOfUser("alice")
        }
        var bob: TestClient?
        var bobNode = ""
        for attempt in 1...10 where bob == nil {
            let candidate = try TestClient.loggedIn(port: port, name: "bob\(attempt)")
            let node = try await eventually(timeout: .seconds(10), every: .milliseconds(200)) {
                try await project.nodeOfUser("bob\(attempt)")
            }
            if node != aliceNode { (bob, bobNode) = (candidate, node) } else { candidate.close() }
        }
        let bobClient = try #require(bob, "ten clients in a row landed on alice's node \(aliceNode)")
        clients.append(bobClient)
        let bobName = bobClient.name
        #expect(nodes[aliceNode] != nil && nodes[bobNode] != nil, "\(aliceNode), \(bobNode) not in \(nodes)")

        // A room, one user list, messages both ways.
        try alice.send(Request.createRoom("Compose"))
        _ = try alice.next(action: "JoinRoom", timeout: 10, containing: ["<Result>Success</Result>"])
        try join(bobClient, "Compose")
        _ = try alice.next(action: "UpdateUserList", timeout: 10, containing: ["<MinorAction>UserJoined</MinorAction>", "<Name>\(bobName)</Name>"])
        try alice.send(Request.publicMessage("hello from \(aliceNode)"))
        _ = try bobClient.next(action: "SendPublicMessage", timeout: 10, containing: ["hello from \(aliceNode)", "<User>alice</User>"])
        try bobClient.send(Request.publicMessage("hello back from \(bobNode)"))
        _ = try alice.next(action: "SendPublicMessage", timeout: 10, containing: ["hello back from \(bobNode)", "<User>\(bobName)</User>"])

        // The web port: the page, and a WebSocket session in the same room.
        let page = try HTTPProbe.request(port: webPort, "/")
        #expect(page.status == 200 && page.body.contains("msg_txt"), "the page through HAProxy: \(page.head)")
        let wendy = try TestClient.loggedIn(port: webPort, name: "wendy", transport: .ws)
        clients.append(wendy)
        try join(wendy, "Compose")
        _ = try alice.next(action: "UpdateUserList", timeout: 10, containing: ["<MinorAction>UserJoined</MinorAction>", "<Name>wendy</Name>"])
        _ = try bobClient.next(action: "UpdateUserList", timeout: 10, containing: ["<MinorAction>UserJoined</MinorAction>", "<Name>wendy</Name>"])
        try wendy.send(Request.publicMessage("hi from a browser"))
        _ = try alice.next(action: "SendPublicMessage", timeout: 10, containing: ["hi from a browser", "<User>wendy</User>"])
        _ = try bobClient.next(action: "SendPublicMessage", timeout: 10, containing: ["hi from a browser", "<User>wendy</User>"])
        try alice.send(Request.publicMessage("hi browser"))
        _ = try wendy.next(action: "SendPublicMessage", timeout: 10, containing: ["hi browser", "<User>alice</User>"])

        // Kill bob's node container: no goodbye from it; the cluster reaps its users, and
        // alice sees bob leave within 10 s.
        let victim = try #require(nodes[bobNode])
        try await project.engine.dockerOK(["kill", victim])
        let killed = ContinuousClock.now
        _ = try alice.waitFor("UserLeft \(bobName)", timeout: 10) {
            $0.action == "UpdateUserList" && $0.minorAction == "UserLeft" && $0.raw.contains("<Name>\(bobName)</Name>")
        }
        print("compose test: \(bobName) left alice's list \(ContinuousClock.now - killed) after docker kill of \(bobNode)")
        #expect(bobClient.waitClosed(timeout: 10), "\(bobName)'s connection should end with its node")

        // New clients still get in, on the nodes left, and chat with alice.
        let dave = try await eventually(timeout: .seconds(15), every: .milliseconds(250)) { () -> TestClient? in
            try TestClient.loggedIn(port: port, name: "dave", timeout: 3)
        }
        clients.append(dave)
        try join(dave, "Compose")
        try dave.send(Request.publicMessage("still here"))
        _ = try alice.next(action: "SendPublicMessage", timeout: 10, containing: ["still here", "<User>dave</User>"])
        #expect(try await project.nodeOfUser("dave") != bobNode)

        // --scale: four node containers, and HAProxy fills a slot for each from DNS.
        try await project.composeOK(["up", "-d", "--scale", "node=4"], timeout: .seconds(300))
        _ = try await eventually(timeout: .seconds(60), every: .milliseconds(500)) { () -> Bool? in
            let up = try await project.serversUp()
            return up["chorus_nodes"]?.count == 4 && up["chorus_web_nodes"]?.count == 4 ? true : nil
        }
    }
}
