import ClusterBus
import NIOCore
import NIOHTTP1
import Prometheus

/// What the operator port answers (PROTOCOL.md section 9): `/health`, `/ready`, `/metrics`.
struct AdminEndpoints: Sendable {
    let readiness: Readiness
    let metrics: NodeMetrics
    let registry: PrometheusCollectorRegistry

    struct Response {
        var status: HTTPResponseStatus
        var contentType = "text/plain; charset=utf-8"
        var body: ByteBuffer
        var extraHeaders: [(String, String)] = []
    }

    static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

    func respond(method: HTTPMethod, uri: String) -> Response {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        guard ["/health", "/ready", "/metrics"].contains(path) else {
            return Response(status: .notFound, body: ByteBuffer(string: "not found: this port serves /health, /ready and /metrics\n"))
        }
        guard method == .GET || method == .HEAD else {
            return Response(status: .methodNotAllowed, body: ByteBuffer(string: "use GET\n"),
                            extraHeaders: [("Allow", "GET, HEAD")])
        }
        switch path {
        case "/health":
            return Response(status: .ok, body: ByteBuffer(string: "ok\n"))
        case "/ready":
            if let reason = readiness.notReadyReason() {
                return Response(status: .serviceUnavailable, body: ByteBuffer(string: "not ready: \(reason)\n"))
            }
            return Response(status: .ok, body: ByteBuffer(string: "ready\n"))
        default:
            metrics.refresh(clusterAvailable: readiness.bus.isAvailable)
            return Response(status: .ok, contentType: Self.prometheusContentType,
                            body: ByteBuffer(bytes: registry.emitToBuffer()))
        }
    }
}
