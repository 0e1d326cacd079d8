import ChorusTesting
import Testing

/// The node's `/metrics`, fetched over a real socket and parsed as Prometheus text.
func scrape(_ node: NodeProcess, sourceLocation: SourceLocation = #_sourceLocation) throws -> PrometheusText {
    let response = try OperatorPort.get(try node.adminPort(sourceLocation: sourceLocation), "/metrics")
    guard response.status == 200 else {
        throw TestFailure("GET /metrics answered \(response.status): \(response.body)", sourceLocation: sourceLocation)
    }
    return try PrometheusText(response.body)
}

/// Waits until `condition` holds for a fresh scrape of `node`; records the last scrape's
/// relevant samples if it never does.
@discardableResult
func eventuallyMetrics(_ node: NodeProcess, _ what: String, timeout: Double = 10,
                       sourceLocation: SourceLocation = #_sourceLocation,
                       _ condition: (PrometheusText) -> Bool) throws -> PrometheusText {
    var last = try scrape(node, sourceLocation: sourceLocation)
    let held = try eventuallyBlocking(timeout: timeout, every: 0.05) {
        last = try scrape(node, sourceLocation: sourceLocation)
        return condition(last)
    }
    if !held {
        let samples = last.samples.filter { !$0.name.hasSuffix("_bucket") }.map { "\($0.name)\($0.labels.isEmpty ? "" : "\($0.labels)") \($0.value)" }
        Issue.record("metrics never showed \(what) within \(timeout) s; last scrape:\n\(samples.joined(separator: "\n"))",
                     sourceLocation: sourceLocation)
    }
    return last
}

/// Every metric the README lists (and PROTOCOL.md section 9 asks for), with its type.
let requiredMetrics: [(name: String, type: String)] = [
    ("chorus_connections_open", "gauge"),
    ("chorus_connections_accepted_total", "counter"),
    ("chorus_connections_denied_total", "counter"),
    ("chorus_sessions_logged_in", "gauge"),
    ("chorus_rooms", "gauge"),
    ("chorus_frames_received_total", "counter"),
    ("chorus_frames_sent_total", "counter"),
    ("chorus_messages_published_total", "counter"),
    ("chorus_messages_delivered_total", "counter"),
    ("chorus_errors_total", "counter"),
    ("chorus_malformed_frames_total", "counter"),
    ("chorus_flood_refusals_total", "counter"),
    ("chorus_slow_readers_cut_total", "counter"),
    ("chorus_idle_sessions_closed_total", "counter"),
    ("chorus_cluster_available", "gauge"),
    ("chorus_cluster_roundtrip_seconds", "histogram"),
    ("chorus_delivery_lag_seconds", "histogram"),
    ("chorus_redis_reconnects_total", "counter"),
    ("chorus_redis_resyncs_total", "counter"),
]
