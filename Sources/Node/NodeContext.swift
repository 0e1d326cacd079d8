import ChatDomain
import ClusterBus
import Logging
import NIOCore
import Synchronization
import Wire

/// What every session of a node shares: the bus, the rules, the fan-out and the counters.
final class NodeContext: Sendable {
    let configuration: NodeConfiguration
    let bus: any ClusterBus
    let fanout: Fanout
    let limiter: ConnectionLimiter
    let metrics = NodeMetrics()
    let logger: Logger
    let xmlLimits: XMLLimits
    /// Unstructured tasks of sessions (cluster calls, logouts), waited for at shutdown.
    let tasks: TaskTracker
    private let nextSession = Atomic<UInt64>(0)

    init(configuration: NodeConfiguration, bus: any ClusterBus, fanout: Fanout, tasks: TaskTracker, logger: Logger) {
        self.configuration = configuration
        self.bus = bus
        self.fanout = fanout
        self.tasks = tasks
        self.limiter = ConnectionLimiter(maxTotal: configuration.maxConnections,
                                         maxPerAddress: configuration.maxConnectionsPerAddress)
        self.logger = logger
        self.xmlLimits = XMLLimits(maxValueBytes: configuration.maxFrameBytes)
    }

    func makeSessionID() -> SessionID {
        SessionID(node: bus.nodeID, number: nextSession.add(1, ordering: .relaxed).newValue)
    }
}

/// Counters of one node, logged periodically and at shutdown.
final class NodeMetrics: Sendable {
    let accepted = Atomic<Int>(0)
    let denied = Atomic<Int>(0)
    let framesIn = Atomic<Int>(0)
    let malformed = Atomic<Int>(0)
    let slowReadersCut = Atomic<Int>(0)
    let idleClosed = Atomic<Int>(0)

    var summary: String {
        "accepted=\(accepted.load(ordering: .relaxed)) denied=\(denied.load(ordering: .relaxed)) frames=\(framesIn.load(ordering: .relaxed)) malformed=\(malformed.load(ordering: .relaxed)) slow_readers_cut=\(slowReadersCut.load(ordering: .relaxed)) idle_closed=\(idleClosed.load(ordering: .relaxed))"
    }
}
