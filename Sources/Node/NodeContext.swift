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
    let metrics: NodeMetrics
    let logger: Logger
    let xmlLimits: XMLLimits
    /// Unstructured tasks of sessions (cluster calls, logouts), waited for at shutdown.
    let tasks: TaskTracker
    private let nextSession = Atomic<UInt64>(0)

    init(configuration: NodeConfiguration, bus: any ClusterBus, fanout: Fanout, tasks: TaskTracker,
         metrics: NodeMetrics, logger: Logger) {
        self.configuration = configuration
        self.metrics = metrics
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
