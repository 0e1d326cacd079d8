import ChorusTesting
import Foundation
import Testing
@testable import Bench

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What the smoke runs need besides the kit: redis-server, and where the logs go.
enum SmokeEnvironment {
    static var redisServer: String? { which("redis-server") }

    /// A directory for the logs of this test process's runs (kept for failure messages).
    static func logDirectory() -> String {
        let path = "/tmp/chorus-bench-smoke-\(getpid())"
        mkdir(path, 0o755)
        return path
    }

    /// Starts `executable` with its output in `log`.
    static func start(_ executable: String, _ arguments: [String], log: String) throws -> ChorusTesting.ChildProcess {
        try ChorusTesting.ChildProcess(executable: executable, arguments: arguments, log: URL(fileURLWithPath: log))
    }

    /// SIGTERM, then SIGKILL if it is still running 5 s later.
    static func stop(_ process: ChorusTesting.ChildProcess) {
        process.signal(SIGTERM)
        if process.waitForExitBlocking(timeout: 5) == nil { process.kill() }
    }

    /// Waits until 127.0.0.1:`port` accepts connections, at most 20 s.
    static func waitUntilAccepting(_ port: Int) async -> Bool {
        await eventually(timeout: .seconds(20), every: .milliseconds(50)) { accepts(port: port) }
    }

    /// Runs chorus-bench to completion: its exit status and output lines.
    static func bench(_ arguments: [String]) async throws -> (status: Int32, lines: [String]) {
        let (status, output) = try await run(try Binaries.chorusBench().path, arguments, timeout: .seconds(180))
        return (status, output.split(separator: "\n").map(String.init))
    }
}

@Suite(.serialized) struct SmokeTests {
    /// A 3-second closed-loop run against a real cluster (redis-server + 2 chorus-node with their
    /// web ports), over TCP, over WebSocket (`/ws`) and with both in the same rooms: nothing may
    /// be lost, reordered or disagreed on, and nothing may fail. Speed is not asserted.
    @Test(.enabled(if: SmokeEnvironment.redisServer != nil, "redis-server is not installed"),
          arguments: [Transport.tcp, .ws, .mixed])
    func closedLoopAgainstTwoNodes(transport: Transport) async throws {
        let node = try Binaries.chorusNode().path
        let logDir = SmokeEnvironment.logDirectory()
        var processes: [ChorusTesting.ChildProcess] = []
        defer { for p in processes.reversed() { SmokeEnvironment.stop(p) } }

        let redisPort = try freePort()
        processes.append(try SmokeEnvironment.start(
            SmokeEnvironment.redisServer!,
            ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            log: "\(logDir)/redis.log"))
        try #require(await SmokeEnvironment.waitUntilAccepting(redisPort), "redis-server did not start")

        let allPorts = try freePorts(4)
        let ports = Array(allPorts[0..<2])
        let webPorts = Array(allPorts[2..<4])
        for k in 1...2 {
            let port = ports[k - 1]
            let webPort = webPorts[k - 1]
            processes.append(try SmokeEnvironment.start(
                node,
                ["--host", "127.0.0.1", "--port", String(port), "--http-port", String(webPort),
                 "--redis", "redis://127.0.0.1:\(redisPort)",
                 "--flood-rate", "100000", "--flood-burst", "100000", "--max-connections", "1000"],
                log: "\(logDir)/node\(k)-\(transport.rawValue).log"))
        }
        for port in ports + webPorts { try #require(await SmokeEnvironment.waitUntilAccepting(port), "chorus-node did not start on \(port)") }

        let (status, lines) = try await SmokeEnvironment.bench(
            ["closed", "--nodes", ports.map { "127.0.0.1:\($0)" }.joined(separator: ","),
             "--transport", transport.rawValue, "--ws-nodes", webPorts.map(String.init).joined(separator: ","),
             "--clients", "40", "--rooms", "4", "--window", "4", "--duration", "3", "--drain", "10",
             "--json", "--quiet", "--max-runtime", "120"])
        let jsonLine = try #require(lines.last { $0.hasPrefix("{") }, "no JSON from chorus-bench (exit status \(status)): \(lines)")
        let r = try JSONValue.parse(jsonLine)
        let summary = "result: \(jsonLine); node logs in \(logDir)"

        #expect(r["failed_logins"]?.int == 0, "\(summary)")
        #expect((r["delivered"]?.int ?? 0) > 0, "\(summary)")
        #expect(r["loss"]?.int == 0, "\(summary)")
        #expect(r["order"]?.int == 0, "\(summary)")
        #expect(r["disagreements"]?.int == 0, "\(summary)")
        #expect(r["errors"]?.int == 0, "\(summary)")
        #expect(r["disconnects"]?.int == 0, "\(summary)")
        #expect(r["foreign"]?.int == 0, "\(summary)")
        #expect(r["transport"]?.string == transport.rawValue, "\(summary)")
        #expect(r["ws_clients"]?.int == [Transport.tcp: nil, .ws: 40, .mixed: 20][transport]!, "\(summary)")
        #expect(status == 0, "\(summary)")
    }

    /// A short churn run against one real node (alone, no Redis), held full for 127.0.0.2 by its
    /// per-address limit: every cycle completes as its kind expects and the report has the memory
    /// fields. Memory and speed are measured by the benchmark, not asserted here.
    @Test func churnAgainstOneNode() async throws {
        let node = try Binaries.chorusNode().path
        let logDir = SmokeEnvironment.logDirectory()
        let port = try freePort()
        let nodeProcess = try SmokeEnvironment.start(
            node,
            ["--host", "127.0.0.1", "--port", String(port), "--threads", "1",
             "--max-connections", "1000", "--max-connections-per-ip", "20"],
            log: "\(logDir)/churn-node.log")
        defer { SmokeEnvironment.stop(nodeProcess) }
        try #require(await SmokeEnvironment.waitUntilAccepting(port), "chorus-node did not start on \(port)")

        let (status, lines) = try await SmokeEnvironment.bench(
            ["churn", "--nodes", "127.0.0.1:\(port)", "--pid", "node=\(nodeProcess.pid)",
             "--cycles", "1000", "--warmup", "200", "--denied", "0.2", "--concurrency", "8",
             "--settle", "0.1", "--json", "--quiet", "--max-runtime", "120"])
        let jsonLine = try #require(lines.last { $0.hasPrefix("{") }, "no JSON from chorus-bench (exit status \(status)): \(lines)")
        let r = try JSONValue.parse(jsonLine)
        let summary = "result: \(jsonLine); node log in \(logDir)"

        #expect(r["mode"]?.string == "churn", "\(summary)")
        #expect(r["completed"]?.int == 1000, "\(summary)")
        #expect(r["failed"]?.int == 0, "\(summary)")
        #expect(r["denials"]?.string == "held", "\(summary)")
        #expect(r["held_connections"]?.int == 20, "\(summary)")
        for kind in ["closed", "login", "malformed", "ping", "denied"] {
            #expect(r["kinds"]?[kind]?.int == 200, "\(kind): \(summary)")
        }
        for field in ["cycles_per_s", "rss_start_kb", "rss_warm_kb", "rss_end_kb", "bytes_per_cycle", "kb_per_100k_cycles"] {
            #expect(r[field]?.double != nil, "\(field): \(summary)")
        }
        #expect(status == 0, "\(summary)")
        #expect(ReportPrinter.table([r]).contains("B/cycle"), "\(summary)")
    }
}
