/// The operator port (`--admin-port`, PROTOCOL.md section 9) as a load balancer or
/// Prometheus sees it, over `HTTPProbe`.
public enum OperatorPort {
    /// `method path` with `Connection: close`, the answer read to its end.
    public static func get(_ port: Int, _ path: String, method: String = "GET", timeout: Double = 5) throws -> HTTPProbe {
        try HTTPProbe.request(port: port, path, method: method, headers: ["Connection: close"], timeout: timeout)
    }

    /// The status of `GET path`; nil when there is no answer (refused, closed).
    public static func status(_ port: Int, _ path: String) -> Int? {
        try? get(port, path, timeout: 2).status
    }
}
