import ChorusTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// PROTOCOL.md section 9 over real sockets: `/health`, `/ready`, `/metrics`, and what the
/// operator port does with requests it should not get.
@Suite("Operator endpoints", .nodeGate)
struct OperatorEndpointTests {
    @Test("/health and /ready answer 200, /metrics is Prometheus text with every listed metric, other paths 404")
    func endpoints() throws {
        let node = try NodeProcess.start(["--admin-port", "0"])
        let port = try node.adminPort()

        let health = try OperatorPort.get(port, "/health")
        #expect(health.status == 200)
        #expect(health.body == "ok\n")
        let ready = try OperatorPort.get(port, "/ready")
        #expect(ready.status == 200, "\(ready.body)")

        let metrics = try OperatorPort.get(port, "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.header("content-type")?.hasPrefix("text/plain; version=0.0.4") == true, "\(metrics.head)")
        let text = try PrometheusText(metrics.body)
        for (name, type) in requiredMetrics {
            #expect(text.types[name] == type, "\(name): \(text.types[name] ?? "missing")")
        }
        for (name, type) in text.types where type == "counter" {
            #expect(name.hasSuffix("_total"), "counter \(name) does not end in _total")
        }
        #expect(text.types.keys.allSatisfy { $0.hasPrefix("chorus_") }, "\(text.types.keys.sorted())")
        #expect(text.value("chorus_cluster_available") == 1)
        #expect(text.value("chorus_connections_open", ["transport": "tcp"]) == 0)

        #expect(try OperatorPort.get(port, "/ready?verbose=1").status == 200)
        #expect(try OperatorPort.get(port, "/").status == 404)
        #expect(try OperatorPort.get(port, "/metricsx").status == 404)
        #expect(try OperatorPort.get(port, "/../etc/passwd").status == 404)
        #expect(try OperatorPort.get(port, "/ready", method: "POST").status == 405)
        let head = try OperatorPort.get(port, "/health", method: "HEAD")
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
    }

    @Test("Bad requests (garbage, huge headers, a large body, too many connections) are refused; the node goes on")
    func hostileRequests() throws {
        let node = try NodeProcess.start(["--admin-port", "0"])
        let port = try node.adminPort()

        // Each gets an error status, or (where the node closed before the whole request was
        // sent) no answer at all; never a 200.
        let garbage = try? HTTPProbe.raw(port: port, Array("\u{1}\u{2} nonsense\r\n\r\n".utf8))
        #expect(garbage.map { $0.status == 400 } ?? true, "\(String(describing: garbage?.head))")

        let hugeHeader = "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 200_000))\r\n\r\n"
        let huge = try? HTTPProbe.raw(port: port, Array(hugeHeader.utf8))
        #expect(huge.map { $0.status >= 400 } ?? true, "\(String(describing: huge?.head))")

        let body = String(repeating: "b", count: 100_000)
        let post = "POST /ready HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        let large = try? HTTPProbe.raw(port: port, Array(post.utf8))
        #expect(large.map { $0.status == 413 } ?? true, "\(String(describing: large?.head))")
        #expect(garbage != nil || huge != nil || large != nil, "no bad request got an answer")

        // Connections beyond the cap are closed at once; those within it stay.
        var held: [Int32] = []
        defer { for fd in held { Socket.close(fd) } }
        for _ in 0..<70 {
            let fd = try Socket.makeTCP()
            #expect(Socket.connect(fd, port: port) == 0)
            held.append(fd)
        }
        func closedByServer() -> Int {
            held.filter { fd in
                guard Socket.waitReadable(fd, milliseconds: 0) else { return false }
                var byte: UInt8 = 0
                return recv(fd, &byte, 1, Int32(MSG_PEEK)) <= 0
            }.count
        }
        #expect(eventuallyBlocking(timeout: 10, every: 0.05) { closedByServer() >= 6 }, "\(closedByServer()) of 70 closed")
        // 64 stay open (a few fewer if the server has not yet seen the earlier probes close).
        #expect((6...9).contains(closedByServer()), "\(closedByServer()) of 70 closed")
        for fd in held { Socket.close(fd) }
        held = []

        #expect(eventuallyBlocking(timeout: 10, every: 0.1) { OperatorPort.status(port, "/health") == 200 })
        #expect(try OperatorPort.get(port, "/ready").status == 200)
        let client = try TestClient(node)
        try client.login("StillServing")
        #expect(node.isRunning)
    }

    @Test("The operator port is off without --admin-port; a port clash is refused at start-up")
    func configuration() throws {
        let node = try NodeProcess.start()
        #expect(!node.output.contains("operator endpoints"))
        let (status, _, stderr) = try NodeProcess.run(["--port", "9875", "--admin-port", "9875"])
        #expect(status != 0)
        #expect(stderr.contains("--admin-port"), "\(stderr)")
        let (badStatus, _, badStderr) = try NodeProcess.run(["--drain-seconds", "soon"])
        #expect(badStatus != 0)
        #expect(badStderr.contains("--drain-seconds"), "\(badStderr)")
    }
}
