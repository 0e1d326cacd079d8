import ChorusTesting
import ChatDomain
import ChorusTesting
import ClusterBus
import Foundation
import Logging
import NIOCore
import NIOPosix
@testable import RedisClient
import Synchronization
import Testing

// Support for the tests of `RedisClusterBus` against a real redis-server: a recording sink,
// a "cluster" of several buses (nodes) on one redis-server, and raw access to Redis to
// inspect its keys. Every test gets its own redis-server, so tests are independent.

/// A `ClusterEventSink` that records every event delivered, in order.
final class BusRecorder: ClusterEventSink {
    private let recorded = Mutex<[ClusterEvent]>([])

    func deliver(_ events: [ClusterEvent]) {
        recorded.withLock { $0.append(contentsOf: events) }
    }

    var events: [ClusterEvent] { recorded.withLock { $0 } }

    /// Every event so far, one line each (see `describe`).
    var lines: [String] { events.map { describe($0) } }

    func clear() { recorded.withLock { $0.removeAll() } }

    /// The text of every public message received for `room`, in arrival order.
    func messages(in room: RoomRef) -> [String] {
        events.compactMap {
            guard case .room(let ref, .message(let bytes)) = $0, ref == room else { return nil }
            return String(buffer: bytes)
        }
    }

    /// Polls until `predicate` holds for the lines recorded so far, or `timeout` passes.
    @discardableResult
    func waitFor(_ timeout: Duration = .seconds(10), _ predicate: ([String]) -> Bool) async -> Bool {
        await eventually(timeout: timeout) { predicate(self.lines) }
    }

    /// Polls until a line equal to `line` was recorded, or `timeout` passes.
    @discardableResult
    func waitFor(line: String, _ timeout: Duration = .seconds(10)) async -> Bool {
        await waitFor(timeout) { $0.contains(line) }
    }
}

/// Small helpers of the Redis bus tests.
enum BusTest {
    /// How long `body` takes.
    static func elapsed<T>(_ body: () async throws -> T) async rethrows -> (T, Duration) {
        let start = ContinuousClock.now
        let value = try await body()
        return (value, ContinuousClock.now - start)
    }

    /// The result of an operation that may throw `ClusterError`, as a value.
    static func outcome<T>(_ body: () async throws(ClusterError) -> T) async -> Result<T, ClusterError> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    /// The logger of the buses under test: silent, unless `CHORUS_TEST_LOG` names a level.
    static let logger: Logger = {
        if let level = ProcessInfo.processInfo.environment["CHORUS_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) {
            var logger = Logger(label: "chorus.cluster.test", factory: { StreamLogHandler.standardError(label: $0) })
            logger.logLevel = level
            return logger
        }
        return Logger(label: "chorus.cluster.test", factory: { _ in SwiftLogNoOpLogHandler() })
    }()

    /// A room of the zone `Chat`.
    static func room(_ name: String) -> RoomRef { RoomRef(zone: "Chat", name: name) }
}

/// One node of a test cluster: a `RedisClusterBus` and the sink recording its events.
final class BusNode: BusSessions {
    let name: String
    let bus: RedisClusterBus
    let sink = BusRecorder()
    /// Set for a bus with an event-loop group of its own (see `BusCluster.addBus(ownGroup:)`).
    let ownGroup: MultiThreadedEventLoopGroup?
    private let counter = Mutex<UInt64>(0)
    /// The session that last joined each room through `joined`: `publish` sends as it.
    private let lastJoined = Mutex<[RoomRef: SessionID]>([:])
    /// The bus was killed or shut down by the test; the cluster does not shut it down again.
    let finished = Mutex(false)

    init(name: String, bus: RedisClusterBus, ownGroup: MultiThreadedEventLoopGroup?) {
        self.name = name
        self.bus = bus
        self.ownGroup = ownGroup
    }

    var nodeID: NodeID { bus.nodeID }
    var sessionBus: any ClusterBus { bus }
    var label: String { name }

    /// A new session id of this node.
    func newSession() -> SessionID {
        SessionID(node: bus.nodeID, number: counter.withLock { $0 += 1; return $0 })
    }

    /// Joins (or creates) and requires success; returns the room joined.
    @discardableResult
    func joined(_ session: SessionID, _ room: RoomRef, password: String? = nil, create options: RoomOptions? = nil,
                sourceLocation: SourceLocation = #_sourceLocation) async throws -> JoinedRoom {
        let joined = try await requireJoined(session, room, password: password, create: options, sourceLocation: sourceLocation)
        lastJoined.withLock { $0[room] = session }
        return joined
    }

    /// Publishes as the session that last joined `room` here, and waits for the cluster's
    /// acknowledgement.
    func publish(_ text: String, to room: RoomRef) async throws {
        guard let session = lastJoined.withLock({ $0[room] }) else { throw BusTestFailure("\(name): nobody joined \(room) here") }
        try await bus.publishAcknowledged(to: room, from: session, message: ByteBuffer(string: text))
    }
}

struct BusTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String, _ location: SourceLocation = #_sourceLocation) {
        description = "\(message) [at \(location.fileName):\(location.line)]"
    }
}

/// Several `RedisClusterBus` instances (the nodes of a cluster) on one fresh redis-server.
///
///     try await BusCluster.with(buses: 3) { cluster in
///         let (a, b, c) = (cluster[0], cluster[1], cluster[2])
///         ...
///     }
///
/// `with` shuts every bus down, stops the event loops and the redis-server, also when the
/// body throws.
final class BusCluster: Sendable {
    let redis: RedisServer
    let group: MultiThreadedEventLoopGroup
    let prefix: String
    let rules: ClusterRules
    private let members = Mutex<[BusNode]>([])
    private let proxies = Mutex<[CuttableProxy]>([])

    static let chat = "Chat"
    static let lobby = RoomRef(zone: "Chat", name: "Lobby")

    private init(redis: RedisServer, group: MultiThreadedEventLoopGroup, prefix: String, rules: ClusterRules) {
        self.redis = redis
        self.group = group
        self.prefix = prefix
        self.rules = rules
    }

    subscript(index: Int) -> BusNode { members.withLock { $0[index] } }

    var buses: [BusNode] { members.withLock { $0 } }

    static func with<Result>(buses count: Int, rules: ClusterRules = ClusterRules(), prefix: String = "chorus:",
                             _ body: (BusCluster) async throws -> Result) async throws -> Result {
        let redis = try await RedisServer.start()
        let cluster = BusCluster(redis: redis, group: MultiThreadedEventLoopGroup(numberOfThreads: 2), prefix: prefix, rules: rules)
        return try await withCleanup({
            for index in 0..<count { try await cluster.addBus(name: "b\(index + 1)") }
            return try await body(cluster)
        }, cleanup: { await cluster.close() })
    }

    /// Starts one more bus. With `ownGroup`, it runs on an event-loop group of its own, which
    /// `kill(_:)` can take away from it (a node that dies without a word).
    @discardableResult
    func addBus(name: String, rules: ClusterRules? = nil, ownGroup: Bool = false, url: String? = nil) async throws -> BusNode {
        let group = ownGroup ? MultiThreadedEventLoopGroup(numberOfThreads: 1) : nil
        let bus = try RedisClusterBus(nodeID: NodeID.fresh(name: name), url: url ?? redis.url, prefix: prefix,
                                      rules: rules ?? self.rules, eventLoop: (group ?? self.group).next(),
                                      logger: BusTest.logger)
        let member = BusNode(name: name, bus: bus, ownGroup: group)
        members.withLock { $0.append(member) }
        try await bus.start(sink: member.sink)
        return member
    }

    /// Simulates a SIGKILLed node: its event loops (and with them its Redis connections and
    /// its heartbeat) stop at once; nothing is deregistered.
    func kill(_ member: BusNode) async throws {
        guard let group = member.ownGroup else { throw BusTestFailure("\(member.name) has no event-loop group of its own") }
        member.finished.withLock { $0 = true }
        try await group.shutdownGracefully()
    }

    /// `shutdown()` of one bus, done by the test.
    func shutdown(_ member: BusNode) async {
        member.finished.withLock { $0 = true }
        await member.bus.shutdown()
        try? await member.ownGroup?.shutdownGracefully()
    }

    /// A proxy in front of the redis-server (for a bus that the test cuts off from Redis);
    /// closed with the cluster.
    func makeProxy() async throws -> CuttableProxy {
        let proxy = try await CuttableProxy.start(to: redis.port, group: group)
        proxies.withLock { $0.append(proxy) }
        return proxy
    }

    func close() async {
        for member in buses where !member.finished.withLock({ $0 }) {
            await member.bus.shutdown()
            try? await member.ownGroup?.shutdownGracefully()
        }
        for proxy in proxies.withLock({ $0 }) { await proxy.close() }
        try? await group.shutdownGracefully()
        await redis.stop()
    }

    // MARK: Raw Redis

    /// Runs one command on a fresh connection to the redis-server.
    func raw(_ argv: [String]) async throws -> RESPValue {
        let connection = try await RedisConnection.connect(to: try RedisConfiguration(url: redis.url),
                                                           eventLoop: group.next(), logger: BusTest.logger).get()
        do {
            let reply = try await connection.send(argv).get()
            try? await connection.close().get()
            return reply
        } catch {
            try? await connection.close().get()
            throw error
        }
    }

    /// Every key of the cluster, without the prefix, sorted.
    func keys() async throws -> [String] {
        let reply = try await raw(["KEYS", "\(prefix)*"])
        return (reply.array ?? []).compactMap(\.string).map { String($0.dropFirst(prefix.count)) }.sorted()
    }

    /// The `names` hash: name key → session id.
    func names() async throws -> [String: String] {
        let flat = (try await raw(["HGETALL", "\(prefix)names"]).array ?? []).compactMap(\.string)
        var names: [String: String] = [:]
        for index in stride(from: 0, to: flat.count - 1, by: 2) { names[flat[index]] = flat[index + 1] }
        return names
    }

    /// A room's member session ids in join order.
    func members(of room: RoomRef) async throws -> [String] {
        (try await raw(["ZRANGE", "\(prefix)members:\(room.zone)\u{1F}\(room.name)", "0", "-1"]).array ?? []).compactMap(\.string)
    }

    /// Keys (without the prefix) that belong to `node`: `alive:<id>`, `sessions:<id>` and its
    /// sessions `s:<id>/*`.
    func keys(of node: NodeID) async throws -> [String] {
        try await keys().filter {
            $0 == "alive:\(node.rawValue)" || $0 == "sessions:\(node.rawValue)" || $0.hasPrefix("s:\(node.rawValue)/")
        }
    }

    /// The `nodes` set.
    func registeredNodes() async throws -> Set<String> {
        Set((try await raw(["SMEMBERS", "\(prefix)nodes"]).array ?? []).compactMap(\.string))
    }
}

extension JoinOutcome {
    var failedReason: Reason? {
        if case .failed(let reason) = self { return reason }
        return nil
    }

    var joinedRoom: JoinedRoom? {
        if case .joined(let joined) = self { return joined }
        return nil
    }
}

extension LoginOutcome {
    var acceptedListing: ZoneListing? {
        if case .accepted(let listing) = self { return listing }
        return nil
    }
}
