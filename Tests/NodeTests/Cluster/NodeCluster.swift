import ChorusTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A cluster for end-to-end tests: one fresh redis-server (`RedisServer`, shared with
/// ClusterBusTests through a symbolic link) and several real `chorus-node` processes
/// (`NodeProcess`) on it, each started with
/// `--redis redis://127.0.0.1:PORT --node-id nN --rooms Lobby --threads 1` and `arguments`.
///
///     try await NodeCluster.with(nodes: 3) { cluster in
///         let alice = try cluster.loggedIn(0, "alice")    // a TestClient on node 1
///         ...
///     }
///
/// `with` kills every node and stops the redis-server, also when the body throws.
final class NodeCluster: @unchecked Sendable {
    let redis: RedisServer
    let arguments: [String]
    /// Every node also opens a web port (WebSocket clients).
    let web: Bool
    let prefix = "chorus:"
    private(set) var nodes: [NodeProcess] = []

    private init(redis: RedisServer, arguments: [String], web: Bool) {
        self.redis = redis
        self.arguments = arguments
        self.web = web
    }

    static func with<Result>(nodes count: Int = 3, arguments: [String] = [], web: Bool = false,
                             _ body: (NodeCluster) async throws -> Result) async throws -> Result {
        let redis = try await RedisServer.start()
        let cluster = NodeCluster(redis: redis, arguments: arguments, web: web)
        return try await withCleanup({
            for index in 0..<count { cluster.nodes.append(try cluster.startNode(index)) }
            return try await body(cluster)
        }, cleanup: { await cluster.close() })
    }

    private func startNode(_ index: Int) throws -> NodeProcess {
        try NodeProcess.start(["--redis", redis.url, "--node-id", "n\(index + 1)", "--rooms", "Lobby", "--threads", "1"] + arguments,
                              web: web)
    }

    private func close() async {
        for node in nodes { node.kill() }
        await redis.stop()
    }

    subscript(index: Int) -> NodeProcess { nodes[index] }

    /// Stops node `index` (SIGTERM, as an operator would) and starts it again with the same
    /// arguments; its clients are gone, its id in Redis is new.
    func restart(_ index: Int) throws {
        try nodes[index].stop()
        nodes[index] = try startNode(index)
    }

    /// The node's id in Redis (`nN.<random suffix>`), read from its start-up log line.
    func nodeID(_ index: Int) throws -> String { try loggedNodeID(nodes[index], number: index + 1) }

    /// A client connected to node `index` (0-based), past `ConnectionResponse`.
    func client(_ index: Int, _ name: String, transport: ClientTransport = .tcp,
                sourceLocation: SourceLocation = #_sourceLocation) throws -> TestClient {
        try TestClient(nodes[index], name: "\(name)@n\(index + 1)", transport: transport, sourceLocation: sourceLocation)
    }

    /// A client of node `index`, logged in as `user`.
    func loggedIn(_ index: Int, _ user: String, transport: ClientTransport = .tcp,
                  sourceLocation: SourceLocation = #_sourceLocation) throws -> TestClient {
        let client = try client(index, user, transport: transport, sourceLocation: sourceLocation)
        try client.login(user, sourceLocation: sourceLocation)
        return client
    }

    /// The process id of node `index` (for signals to that one process: SIGSTOP/SIGCONT).
    func pid(_ index: Int) throws -> Int32 { nodes[index].pid }

    // MARK: Redis, as an operator sees it

    /// Runs `redis-cli -p PORT --raw ARGS...` and returns its output lines.
    func redisCLI(_ arguments: [String]) throws -> [String] { try runRedisCLI(port: redis.port, arguments) }

    /// `KEYS chorus:*`, without the prefix, sorted.
    func keys() throws -> [String] {
        try redisCLI(["KEYS", "\(prefix)*"]).map { String($0.dropFirst(prefix.count)) }.sorted()
    }

    /// The keys that belong to a node: `alive:<id>`, `sessions:<id>` and its sessions'
    /// `s:<id>/*` (docs/cluster.md, "Keys").
    func keys(ofNode id: String) throws -> [String] {
        try keys().filter { $0 == "alive:\(id)" || $0 == "sessions:\(id)" || $0.hasPrefix("s:\(id)/") }
    }

    /// The name keys of the logged-in users (`HKEYS chorus:names`), sorted.
    func nameKeys() throws -> [String] {
        try redisCLI(["HKEYS", "\(prefix)names"]).sorted()
    }

}

/// Moves a non-Sendable value (a `TestClient`, used by one thread at a time) into a
/// concurrently running closure.
struct ClusterUnchecked<Value>: @unchecked Sendable {
    let value: Value
}

extension TestClient {
    /// Sends `Login` and expects `LoginResponse` `Denied` with `reason`.
    func expectLoginDenial(as user: String, reason: String, timeout: Double = TestClient.defaultTimeout,
                           sourceLocation: SourceLocation = #_sourceLocation) throws {
        try send(Request.login(user))
        try expect("LoginResponse", result: "Denied", reason: reason, timeout: timeout, sourceLocation: sourceLocation)
    }

    /// Reads until an `UpdateUserList` with `minor` for `user` arrives; other frames are skipped.
    @discardableResult
    func waitForUserListChange(_ minor: String, _ user: String, timeout: Double = TestClient.defaultTimeout,
                         sourceLocation: SourceLocation = #_sourceLocation) throws -> Frame {
        try waitFor("UpdateUserList \(minor) \(user)", timeout: timeout, sourceLocation: sourceLocation) {
            $0.action == "UpdateUserList" && $0.minorAction == minor && $0.userName == user
        }
    }

    /// The next `count` public messages, in arrival order (other frames skipped; an `Error`
    /// is recorded as an issue, since none is expected while messages flow).
    func publicMessages(_ count: Int, timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) throws -> [Frame] {
        var received: [Frame] = []
        while received.count < count {
            let frame = try waitFor("message \(received.count + 1) of \(count)", timeout: timeout, sourceLocation: sourceLocation) {
                $0.action == "SendPublicMessage" || $0.action == "Error"
            }
            guard frame.action == "SendPublicMessage" else {
                Issue.record("\(name) got \(frame.raw)", sourceLocation: sourceLocation)
                continue
            }
            received.append(frame)
        }
        return received
    }

    /// Like `waitFor`, but also satisfied by a frame received (and skipped) earlier.
    @discardableResult
    func waitForOrSeen(_ description: String, timeout: Double = TestClient.defaultTimeout,
                       sourceLocation: SourceLocation = #_sourceLocation, where predicate: (Frame) -> Bool) throws -> Frame {
        if let seen = history.first(where: predicate) { return seen }
        return try waitFor(description, timeout: timeout, sourceLocation: sourceLocation, where: predicate)
    }

    /// Sends `xml`; the first `action` frame that follows (others skipped) must be a
    /// `Failure` with `reason`.
    func refused(_ xml: String, _ action: String, _ reason: String,
                 sourceLocation: SourceLocation = #_sourceLocation) throws {
        let frame = try call(xml, action, sourceLocation: sourceLocation)
        #expect(frame.result == "Failure" && frame.reason == reason,
                "\(name): expected \(action) Failure (\(reason)), got: \(frame.raw)", sourceLocation: sourceLocation)
    }

    /// `GetLoggedInUserCount`: the count, or nil if the answer was an `Error`.
    func loggedInUserCount(sourceLocation: SourceLocation = #_sourceLocation) throws -> String? {
        try send(Request.getLoggedInUserCount)
        let frame = try waitFor("GetLoggedInUserCount", sourceLocation: sourceLocation) {
            $0.action == "GetLoggedInUserCount" || ($0.action == "Error" && $0.param("RequestAction") == "GetLoggedInUserCount")
        }
        return frame.action == "Error" ? nil : frame.param("LoggedInUsers")
    }
}
