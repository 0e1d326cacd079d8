import ChatDomain
import ClusterBus
import Logging
import Metrics
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

/// Counters of one node: swift-metrics counters (whatever backend the process bootstraps
/// exports them, e.g. Prometheus; without one they cost nothing), each also kept here for
/// the minute's log line.
final class NodeMetrics: Sendable {
    let accepted = NodeCounter("chorus_connections_accepted_total")
    let denied = NodeCounter("chorus_connections_denied_total")
    let framesIn = NodeCounter("chorus_frames_received_total")
    let malformed = NodeCounter("chorus_malformed_frames_total")
    let slowReadersCut = NodeCounter("chorus_slow_readers_cut_total")
    let idleClosed = NodeCounter("chorus_idle_sessions_closed_total")

    var summary: String {
        "accepted=\(accepted.value) denied=\(denied.value) frames=\(framesIn.value) malformed=\(malformed.value) slow_readers_cut=\(slowReadersCut.value) idle_closed=\(idleClosed.value)"
    }
}

/// One counter: a swift-metrics `Counter` and its running total.
final class NodeCounter: Sendable {
    private let counter: Counter
    private let total = Atomic<Int>(0)

    init(_ label: String) {
        counter = Counter(label: label)
    }

    func add(_ amount: Int) {
        total.add(amount, ordering: .relaxed)
        counter.increment(by: amount)
    }

    var value: Int { total.load(ordering: .relaxed) }
}
