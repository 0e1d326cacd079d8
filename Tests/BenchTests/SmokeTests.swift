import Testing
@testable import Bench

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Processes and ports for a real 2-node cluster on 127.0.0.1.
enum SmokeEnvironment {
    /// The directory of the running test executable: SwiftPM puts chorus-node and chorus-bench
    /// next to it.
    static var binDirectory: String {
        let exe = ownExecutablePath()
        // …/debug/chorus-packageTests.xctest (Linux) or …/debug/X.xctest/Contents/MacOS/X (macOS)
        var parts = exe.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if let k = parts.firstIndex(where: { $0.hasSuffix(".xctest") }) {
            parts = Array(parts[..<k])
        } else {
            parts.removeLast()
        }
        return parts.joined(separator: "/")
    }

    static func which(_ program: String) -> String? {
        for dir in (getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(program)"
            if access(path, X_OK) == 0 { return path }
        }
        return nil
    }

    static var redisServer: String? { which("redis-server") }

    /// A port that was free a moment ago (bind to 0, read, close).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    static func waitUntilAccepting(_ port: Int, seconds: Double = 20) -> Bool {
        let deadline = monotonicNanos() + UInt64(seconds * 1e9)
        while monotonicNanos() < deadline {
            if accepts(port) { return true }
            sleepSeconds(0.05)
        }
        return false
    }
}

@Suite(.serialized) struct SmokeTests {
    /// A 3-second closed-loop run against a real cluster (redis-server + 2 chorus-node): nothing
    /// may be lost, reordered or disagreed on, and nothing may fail. Speed is not asserted.
    @Test(.enabled(if: SmokeEnvironment.redisServer != nil, "redis-server is not installed"))
    func closedLoopAgainstTwoNodes() throws {
        let bin = SmokeEnvironment.binDirectory
        let node = bin + "/chorus-node"
        let bench = bin + "/chorus-bench"
        guard access(node, X_OK) == 0, access(bench, X_OK) == 0 else {
            Issue.record("build chorus-node and chorus-bench first (looked in \(bin))")
            return
        }
        let logDir = "/tmp/chorus-bench-smoke-\(getpid())"
        mkdir(logDir, 0o755)
        var processes: [ChildProcess] = []
        defer { for p in processes.reversed() { p.stop() } }

        let redisPort = SmokeEnvironment.freePort()
        processes.append(try ChildProcess(
            executable: SmokeEnvironment.redisServer!,
            arguments: ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            logPath: "\(logDir)/redis.log"))
        try #require(SmokeEnvironment.waitUntilAccepting(redisPort), "redis-server did not start")

        var ports: [Int] = []
        for k in 1...2 {
            let port = SmokeEnvironment.freePort()
            ports.append(port)
            processes.append(try ChildProcess(
                executable: node,
                arguments: ["--host", "127.0.0.1", "--port", String(port), "--redis", "redis://127.0.0.1:\(redisPort)",
                            "--flood-rate", "100000", "--flood-burst", "100000", "--max-connections", "1000"],
                logPath: "\(logDir)/node\(k).log"))
        }
        for port in ports { try #require(SmokeEnvironment.waitUntilAccepting(port), "chorus-node did not start on \(port)") }

        let run = try ChildProcess(
            executable: bench,
            arguments: ["closed", "--nodes", ports.map { "127.0.0.1:\($0)" }.joined(separator: ","),
                        "--clients", "40", "--rooms", "4", "--window", "4", "--duration", "3", "--drain", "10",
                        "--json", "--quiet", "--max-runtime", "120"])
        var lines: [String] = []
        while let line = run.readLine() { lines.append(line) }
        let status = run.wait()
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
        #expect(status == 0, "\(summary)")
    }

    /// A short churn run against one real node (alone, no Redis), held full for 127.0.0.2 by its
    /// per-address limit: every cycle completes as its kind expects and the report has the memory
    /// fields. Memory and speed are measured by the benchmark, not asserted here.
    @Test func churnAgainstOneNode() throws {
        let bin = SmokeEnvironment.binDirectory
        let node = bin + "/chorus-node"
        let bench = bin + "/chorus-bench"
        guard access(node, X_OK) == 0, access(bench, X_OK) == 0 else {
            Issue.record("build chorus-node and chorus-bench first (looked in \(bin))")
            return
        }
        let logDir = "/tmp/chorus-bench-smoke-\(getpid())"
        mkdir(logDir, 0o755)
        let port = SmokeEnvironment.freePort()
        let nodeProcess = try ChildProcess(
            executable: node,
            arguments: ["--host", "127.0.0.1", "--port", String(port), "--threads", "1",
                        "--max-connections", "1000", "--max-connections-per-ip", "20"],
            logPath: "\(logDir)/churn-node.log")
        defer { nodeProcess.stop() }
        try #require(SmokeEnvironment.waitUntilAccepting(port), "chorus-node did not start on \(port)")

        let run = try ChildProcess(
            executable: bench,
            arguments: ["churn", "--nodes", "127.0.0.1:\(port)", "--pid", "node=\(nodeProcess.pid)",
                        "--cycles", "1000", "--warmup", "200", "--denied", "0.2", "--concurrency", "8",
                        "--settle", "0.1", "--json", "--quiet", "--max-runtime", "120"])
        var lines: [String] = []
        while let line = run.readLine() { lines.append(line) }
        let status = run.wait()
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
