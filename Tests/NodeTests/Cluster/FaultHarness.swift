import ChorusTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A cluster for fault tests: one fresh redis-server started with
/// `--enable-debug-command local` (so that `DEBUG SLEEP` works; Redis 7 refuses DEBUG
/// otherwise) and several real `chorus-node` processes on it, each started with
/// `--redis redis://127.0.0.1:PORT --node-id nN --rooms Lobby --threads 1` and a flood
/// budget high enough for a chat load (`--flood-rate 1000 --flood-burst 1000`) plus
/// `arguments`.
///
/// It is `NodeCluster`'s sibling rather than a use of it: the fault tests need their own
/// Redis options, signals to nodes and Redis commands run in the background.
///
///     try await FaultCluster.with(nodes: 3) { cluster in ... }
///
/// `with` kills every node (stopped ones too) and stops the redis-server, also when the
/// body throws.
final class FaultCluster: @unchecked Sendable {
    let redis: RedisServer
    let arguments: [String]
    let prefix = "chorus:"
    private(set) var nodes: [NodeProcess] = []
    private var ids: [Int: String] = [:]
    private var pids: [Int: Int32] = [:]

    static let nodeArguments = ["--flood-rate", "1000", "--flood-burst", "1000"]

    private init(redis: RedisServer, arguments: [String]) {
        self.redis = redis
        self.arguments = arguments
    }

    static func with<Result>(nodes count: Int = 3, arguments: [String] = [],
                             _ body: (FaultCluster) async throws -> Result) async throws -> Result {
        let redis = try await RedisServer.start(arguments: ["--enable-debug-command", "local"])
        let cluster = FaultCluster(redis: redis, arguments: arguments)
        do {
            for index in 0..<count {
                cluster.nodes.append(try NodeProcess.start(
                    ["--redis", redis.url, "--node-id", "n\(index + 1)", "--rooms", "Lobby", "--threads", "1"]
                        + nodeArguments + arguments))
            }
            // Ids and pids now, while every node runs (a killed node has no /proc entry).
            for index in 0..<count {
                cluster.ids[index] = try cluster.readNodeID(index)
                cluster.pids[index] = try cluster.findPID(index)
            }
            let result = try await body(cluster)
            await cluster.close()
            return result
        } catch {
            await cluster.close()
            throw error
        }
    }

    private func close() async {
        for index in nodes.indices { resume(index) }
        for node in nodes { node.kill() }
        await redis.stop()
    }

    subscript(index: Int) -> NodeProcess { nodes[index] }

    /// The node's id in Redis (`nN.<random suffix>`).
    func nodeID(_ index: Int) -> String { ids[index] ?? "?" }

    /// The node's process id.
    func pid(_ index: Int) -> Int32 { pids[index] ?? -1 }

    // MARK: Faults

    /// SIGSTOP: the node keeps its sockets but does nothing.
    func pause(_ index: Int) {
        if let pid = pids[index], nodes[index].isRunning { _ = kill(pid, SIGSTOP) }
    }

    /// SIGCONT.
    func resume(_ index: Int) {
        if let pid = pids[index], nodes[index].isRunning { _ = kill(pid, SIGCONT) }
    }

    /// SIGKILL, waiting until the process is gone.
    func killNode(_ index: Int) {
        nodes[index].kill()
    }

    /// Runs `redis-cli ARGS...` without waiting for it (for `DEBUG SLEEP`); wait with
    /// `waitForExit`.
    func redisCLIInBackground(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.redisCLIPath())
        process.arguments = ["-h", "127.0.0.1", "-p", "\(redis.port)", "--raw"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    // MARK: Redis, as an operator sees it

    /// Runs `redis-cli -p PORT --raw ARGS...` and returns its output lines.
    func redisCLI(_ arguments: [String]) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.redisCLIPath())
        process.arguments = ["-h", "127.0.0.1", "-p", "\(redis.port)", "--raw"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestFailure("redis-cli \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    /// The node ids Redis counts as registered (`SMEMBERS nodes`); nil if Redis does not answer.
    func registeredNodes() -> Set<String>? {
        (try? redisCLI(["SMEMBERS", "\(prefix)nodes"])).map(Set.init)
    }

    /// How many members Redis holds for a room of the default zone `Chat`; nil if Redis does
    /// not answer.
    func memberCount(_ room: String) -> Int? {
        (try? redisCLI(["ZCARD", "\(prefix)members:Chat\u{1F}\(room)"]))?.first.flatMap { Int($0) }
    }

    /// How many pub/sub connections Redis has (`CLIENT LIST TYPE pubsub`).
    func subscriberConnections() -> Int? {
        (try? redisCLI(["CLIENT", "LIST", "TYPE", "pubsub"]))?.count
    }

    /// The last log lines of every node, for failure messages.
    func logTails(lines: Int = 12) -> String {
        nodes.indices.map { "node \($0 + 1) (\(nodeID($0))):\n" + nodes[$0].logTail(lines: lines) }.joined(separator: "\n")
    }

    // MARK: Internals

    private func readNodeID(_ index: Int) throws -> String {
        let output = nodes[index].output
        guard let range = output.range(of: #"Chorus node (\S+) accepting connections"#, options: .regularExpression) else {
            throw TestFailure("node \(index + 1) did not log its id:\n\(nodes[index].logTail())")
        }
        return String(output[range].split(separator: " ")[2])
    }

    /// The process id, found in /proc by the node's `--port` (NodeProcess keeps its
    /// `Process` private).
    private func findPID(_ index: Int) throws -> Int32 {
        let port = String(nodes[index].port)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.first?.hasSuffix("chorus-node") == true,
                  let flag = arguments.firstIndex(of: "--port"), flag + 1 < arguments.count,
                  arguments[flag + 1] == port else { continue }
            return pid
        }
        throw TestFailure("no chorus-node process with --port \(port) in /proc")
    }

    private static func redisCLIPath() -> String {
        if let server = ProcessInfo.processInfo.environment["REDIS_SERVER"], !server.isEmpty {
            let sibling = URL(fileURLWithPath: server).deletingLastPathComponent().appendingPathComponent("redis-cli").path
            if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let candidate = "\(directory)/redis-cli"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return "/usr/bin/redis-cli"
    }
}

/// Waits until `condition` holds, checking every `every` seconds, for at most `timeout`
/// seconds; returns whether it held. Sleeps with `Task.sleep` (never blocks a cooperative
/// thread).
func faultWait(timeout: Double, every: Double = 0.05, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(Int(every * 1000)))
    }
    return try condition()
}

/// Waits until `process` exits, at most `timeout` seconds; returns whether it did.
func faultWaitForExit(_ process: Process, timeout: Double) async -> Bool {
    await faultWait(timeout: timeout) { !process.isRunning }
}

/// Sleeps for `seconds` (a load phase's length, never a wait for a condition).
func faultSleep(_ seconds: Double) async {
    try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
}
