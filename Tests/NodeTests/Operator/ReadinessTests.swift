import ChorusTesting
import Foundation
import Testing

/// `/ready` (PROTOCOL.md section 9) follows what the node can do: reach the cluster state
/// store, take another client.
@Suite("Readiness", .nodeGate)
struct ReadinessTests {
    @Test("Redis goes away: /ready 503 and chorus_cluster_available 0; Redis back: 200, 1, one reconnect and one resync counted")
    func redisOutage() async throws {
        let redis = try await RedisServer.start()
        try await withCleanup({
            let node = try NodeProcess.start(["--redis", redis.url, "--admin-port", "0"])
            let admin = try node.adminPort()
            #expect(try OperatorPort.get(admin, "/ready").status == 200)
            let before = try scrape(node)
            #expect(before.value("chorus_cluster_available") == 1)
            #expect(before.value("chorus_redis_reconnects_total") == 0)

            await redis.stop()
            #expect(await eventually { OperatorPort.status(admin, "/ready") == 503 })
            #expect(try OperatorPort.get(admin, "/ready").body.contains("cluster unavailable"))
            #expect(try OperatorPort.get(admin, "/health").status == 200)
            #expect(try scrape(node).value("chorus_cluster_available") == 0)

            try await redis.startAgain()
            #expect(await eventually(timeout: .seconds(20)) { OperatorPort.status(admin, "/ready") == 200 })
            let after = try scrape(node)
            #expect(after.value("chorus_cluster_available") == 1)
            #expect(after.value("chorus_redis_reconnects_total") == 1)
            // The new Redis is empty: the node put its state back.
            #expect(after.value("chorus_redis_resyncs_total") == 1)
            let client = try TestClient(node)
            try client.login("afterOutage")
        }, cleanup: { await redis.stop() })
    }

    @Test("A full node is not ready; it is again once a slot frees")
    func full() throws {
        let node = try NodeProcess.start(["--admin-port", "0", "--max-connections", "2"])
        let admin = try node.adminPort()
        let first = try TestClient(node, name: "first")
        #expect(try OperatorPort.get(admin, "/ready").status == 200)
        let second = try TestClient(node, name: "second")
        #expect(eventuallyBlocking(timeout: 5) { OperatorPort.status(admin, "/ready") == 503 })
        #expect(try OperatorPort.get(admin, "/ready").body.contains("full"))
        second.close()
        #expect(eventuallyBlocking(timeout: 5) { OperatorPort.status(admin, "/ready") == 200 })
        withExtendedLifetime(first) {}
    }
}
