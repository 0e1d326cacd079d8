import ChatDomain
import ChorusTesting
import ClusterBus
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The buses the contract runs against.
enum BusKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case inProcess
    case redis

    var testDescription: String { rawValue }
}

/// One started bus of either kind with a recording sink, and helpers to act as a node would.
/// Events reach the sink at once (in process) or through Redis pub/sub, so event checks wait
/// (`expectEvents`).
final class ContractBus: BusSessions {
    let kind: BusKind
    let bus: any ClusterBus
    let sink = BusRecorder()
    private let counter = Mutex<UInt64>(0)

    var sessionBus: any ClusterBus { bus }
    var label: String { kind.rawValue }

    private init(kind: BusKind, bus: any ClusterBus) {
        self.kind = kind
        self.bus = bus
    }

    /// Runs `body` with a started bus of `kind` (and, for Redis, its own redis-server), then
    /// shuts it down, also when `body` throws.
    static func with<Result>(_ kind: BusKind, rules: ClusterRules = ClusterRules(),
                             _ body: (ContractBus) async throws -> Result) async throws -> Result {
        switch kind {
        case .inProcess:
            return try await run(ContractBus(kind: kind, bus: InProcessBus(nodeID: NodeID.fresh(name: "contract"), rules: rules)), body)
        case .redis:
            return try await RedisServer.with { redis in
                try await run(ContractBus(kind: kind, bus: try RedisClusterBus(
                    nodeID: NodeID.fresh(name: "contract"), url: redis.url, prefix: "chorus:", rules: rules,
                    eventLoop: MultiThreadedEventLoopGroup.singleton.next(), logger: BusTest.logger)), body)
            }
        }
    }

    /// Starts `bus`, runs `body`, shuts the bus down (also when `body` throws).
    private static func run<Result>(_ bus: ContractBus, _ body: (ContractBus) async throws -> Result) async throws -> Result {
        try await bus.bus.start(sink: bus.sink)
        do {
            let result = try await body(bus)
            await bus.bus.shutdown()
            return result
        } catch {
            await bus.bus.shutdown()
            throw error
        }
    }

    func newSession() -> SessionID {
        SessionID(node: bus.nodeID, number: counter.withLock { $0 += 1; return $0 })
    }

    static func key(_ name: String) throws -> String {
        try UserName.validate(name, maxLength: 20).get().key
    }

    @discardableResult
    func joined(_ session: SessionID, _ room: RoomRef, password: String? = nil, create options: RoomOptions? = nil,
                sourceLocation: SourceLocation = #_sourceLocation) async throws -> JoinedRoom {
        try await requireJoined(session, room, password: password, create: options, sourceLocation: sourceLocation)
    }

    /// Waits until the sink recorded exactly `expected` (as `BusEventText` lines, filtered by
    /// `including`), then clears it. Records an issue with both lists when they differ.
    func expectEvents(_ expected: [String], including: (String) -> Bool = { _ in true },
                      sourceLocation: SourceLocation = #_sourceLocation) async {
        let matched = await sink.waitFor(.seconds(5)) { $0.filter(including) == expected }
        if !matched {
            // Events that should not have come may still be on their way: let them land.
            try? await Task.sleep(for: .milliseconds(100))
        }
        let actual = sink.lines.filter(including)
        #expect(actual == expected, "\(kind) events", sourceLocation: sourceLocation)
        sink.clear()
    }

    /// Lets pending events land, then forgets them.
    func settle() async {
        if kind == .redis { try? await Task.sleep(for: .milliseconds(150)) }
        sink.clear()
    }

    /// The leave of a node's last local member of a room: the Redis bus unsubscribes from
    /// the room as that member leaves, so its node may or may not get the event (nobody on
    /// the node is left to see it); the in-process bus delivers it. Not part of the contract.
    static func lastLocalLeave(_ line: String) -> (String) -> Bool {
        { $0 != line }
    }

    /// Lets pending events land, then expects none (besides those `including` filters out).
    func expectNoEvents(including: (String) -> Bool = { _ in true }, sourceLocation: SourceLocation = #_sourceLocation) async {
        if kind == .redis { try? await Task.sleep(for: .milliseconds(150)) }
        #expect(sink.lines.filter(including) == [], "\(kind) events", sourceLocation: sourceLocation)
        sink.clear()
    }
}
