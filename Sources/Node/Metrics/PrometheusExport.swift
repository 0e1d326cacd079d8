import Metrics
import Prometheus

/// The process's Prometheus registry: the first use bootstraps swift-metrics with
/// swift-prometheus's factory (once per process: swift-metrics allows one bootstrap), so
/// every metric made afterwards (`NodeMetrics`) is exported by `/metrics` on the admin port.
/// Only touched when an admin port is configured; otherwise metrics go nowhere and cost
/// nothing.
enum PrometheusExport {
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = NodeMetrics.latencyBuckets
        MetricsSystem.bootstrap(factory)
        return registry
    }()
}
