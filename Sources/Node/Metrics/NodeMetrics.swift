import ChatDomain
import ClusterBus
import Metrics
import Wire

/// Every metric of one node, through swift-metrics: whatever backend the process bootstraps
/// exports them (`chorus-node` with `--admin-port`: Prometheus, `PrometheusExport`; without
/// one they cost nothing). Names follow Prometheus's conventions; README lists them.
///
/// Nothing here is paid per delivered message: the loop registry counts a batch's
/// deliveries in plain integers and adds them once per batch, and the lag is observed once
/// per batch. Counters are atomics (no lock); histograms take a lock per observation.
final class NodeMetrics: ClusterBusObserver, Sendable {
    // MARK: Connections and sessions

    let accepted = NodeCounter("chorus_connections_accepted_total")
    let denied = NodeCounter("chorus_connections_denied_total")
    private let open: [Meter]  // by `SessionTransport.allCases` order
    private let loggedIn = Meter(label: "chorus_sessions_logged_in")
    /// Rooms in the cluster, as last read from the bus (`refreshRooms`).
    private let rooms = Gauge(label: "chorus_rooms")

    // MARK: Frames and messages

    let framesIn = NodeCounter("chorus_frames_received_total")
    let framesOut = Counter(label: "chorus_frames_sent_total")
    let publishedPublic = Counter(label: "chorus_messages_published_total", dimensions: [("kind", "public")])
    let publishedPrivate = Counter(label: "chorus_messages_published_total", dimensions: [("kind", "private")])
    let deliveredPublic = Counter(label: "chorus_messages_delivered_total", dimensions: [("kind", "public")])
    let deliveredPrivate = Counter(label: "chorus_messages_delivered_total", dimensions: [("kind", "private")])

    // MARK: Refusals and cuts

    let malformed = NodeCounter("chorus_malformed_frames_total")
    let floodRefusals = NodeCounter("chorus_flood_refusals_total")
    let slowReadersCut = NodeCounter("chorus_slow_readers_cut_total")
    let idleClosed = NodeCounter("chorus_idle_sessions_closed_total")
    /// Refusals and errors sent to clients, by reason (PROTOCOL.md section 6).
    private let errors: [String: Counter]

    // MARK: Cluster

    private let clusterAvailable = Gauge(label: "chorus_cluster_available")
    private let roundTrips: [Metrics.Timer]  // by `ClusterOperation.allCases` order
    /// Publish (on the publishing node) to delivery (written to this node's sockets).
    let deliveryLag = Metrics.Timer(label: "chorus_delivery_lag_seconds")
    private let reconnects = Counter(label: "chorus_redis_reconnects_total")
    private let resyncs = Counter(label: "chorus_redis_resyncs_total")

    /// Histogram buckets (seconds) of the round-trip and lag histograms.
    static let latencyBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]
    static let roundTripLabel = "chorus_cluster_roundtrip_seconds"
    static let lagLabel = "chorus_delivery_lag_seconds"

    init() {
        open = SessionTransport.allCases.map { Meter(label: "chorus_connections_open", dimensions: [("transport", $0.rawValue)]) }
        roundTrips = ClusterOperation.allCases.map {
            Metrics.Timer(label: Self.roundTripLabel, dimensions: [("operation", $0.rawValue)])
        }
        errors = Dictionary(uniqueKeysWithValues: Reason.allCases.map {
            ($0.rawValue, Counter(label: "chorus_errors_total", dimensions: [("reason", $0.rawValue)]))
        })
        for meter in open { meter.set(0) }
        loggedIn.set(0)
    }

    // MARK: Sessions

    func connectionOpened(_ transport: SessionTransport) {
        open[Self.index(transport)].increment()
    }

    func connectionClosed(_ transport: SessionTransport) {
        open[Self.index(transport)].decrement()
    }

    func loggedInChanged(_ isLoggedIn: Bool) {
        if isLoggedIn { loggedIn.increment() } else { loggedIn.decrement() }
    }

    /// Counts an event sent to a client if it refuses something or reports an error.
    func countRefusal(_ event: ServerEvent) {
        let reason: String
        switch event {
        case .connectionDenied(let text), .loginDenied(let text), .createRoomFailure(let text),
             .joinRoomFailure(let text), .leaveRoomFailure(let text):
            reason = text
        case .error(let text, _, _):
            reason = text
        default:
            return
        }
        errors[reason]?.increment()
        if reason == Reason.flooding.rawValue { floodRefusals.add(1) }
    }

    /// Errors the loop registry wrote to `count` clients in one batch (`Messages lost`).
    func countErrors(_ reason: Reason, _ count: Int) {
        errors[reason.rawValue]?.increment(by: count)
    }

    // MARK: Gauges read when scraped

    func refresh(clusterAvailable available: Bool) {
        clusterAvailable.record(available ? 1 : 0)
    }

    func refresh(rooms count: Int) {
        rooms.record(count)
    }

    // MARK: ClusterBusObserver

    func clusterRoundTrip(_ operation: ClusterOperation, nanoseconds: Int64) {
        guard let index = ClusterOperation.allCases.firstIndex(of: operation) else { return }
        roundTrips[index].recordNanoseconds(nanoseconds)
    }

    func clusterReconnected() { reconnects.increment() }

    func clusterResynced() { resyncs.increment() }

    // MARK: The minute's log line

    var summary: String {
        "accepted=\(accepted.value) denied=\(denied.value) frames=\(framesIn.value) malformed=\(malformed.value) flood_refusals=\(floodRefusals.value) slow_readers_cut=\(slowReadersCut.value) idle_closed=\(idleClosed.value)"
    }

    private static func index(_ transport: SessionTransport) -> Int {
        switch transport {
        case .tcp: 0
        case .ws: 1
        case .xmlsocket: 2
        }
    }
}
