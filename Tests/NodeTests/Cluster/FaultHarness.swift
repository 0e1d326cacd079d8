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

    static let nodeArguments = ["--flood-rate", "1000", "--flood-burst", "1000"]

    private init(redis: RedisServer, arguments: [String]) {
        self.redis = redis
        self.arguments = arguments
    }

    static func with<Result>(nodes count: Int = 3, arguments: [String] = [],
                             _ body: (FaultCluster) async throws -> Result) async throws -> Result {
        let redis = try await RedisServer.start(arguments: ["--enable-debug-command", "local"])
        let cluster = FaultCluster(redis: redis, arguments: arguments)
        return try await withCleanup({
            for index in 0..<count {
                cluster.nodes.append(try NodeProcess.start(
                    ["--redis", redis.url, "--node-id", "n\(index + 1)", "--rooms", "Lobby", "--threads", "1"]
                        + nodeArguments + arguments))
            }
            // Ids now, while every node runs.
            for index in 0..<count {
                cluster.ids[index] = try loggedNodeID(cluster.nodes[index], number: index + 1)
            }
            return try await body(cluster)
        }, cleanup: { await cluster.close() })
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
    func pid(_ index: Int) -> Int32 { nodes[index].pid }

    // MARK: Faults

    /// SIGSTOP: the node keeps its sockets but does nothing.
    func pause(_ index: Int) {
        nodes[index].signal(SIGSTOP)
    }

    /// SIGCONT.
    func resume(_ index: Int) {
        nodes[index].signal(SIGCONT)
    }

    /// SIGKILL, waiting until the process is gone.
    func killNode(_ index: Int) {
        nodes[index].kill()
    }

    /// Runs `redis-cli ARGS...` without waiting for it (for `DEBUG SLEEP`); wait with
    /// `waitForExit`.
    func redisCLIInBackground(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(executable: redisCLIPath(), arguments: ["-h", "127.0.0.1", "-p", "\(redis.port)", "--raw"] + arguments,
                         log: URL(fileURLWithPath: "/dev/null"))
    }

    // MARK: Redis, as an operator sees it

    /// Runs `redis-cli -p PORT --raw ARGS...` and returns its output lines.
    func redisCLI(_ arguments: [String]) throws -> [String] { try runRedisCLI(port: redis.port, arguments) }

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
}

/// Sleeps for `seconds` (a load phase's length, never a wait for a condition).
func faultSleep(_ seconds: Double) async {
    try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
}
