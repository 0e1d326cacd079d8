/// `RedisLink` has no working connection right now (Redis is down, or the link is reconnecting
/// or shut down). Returned immediately: commands are never buffered while disconnected.
struct RedisUnavailable: Error, Sendable, Hashable, CustomStringConvertible {
    /// The Redis endpoint, password redacted.
    let endpoint: String

    init(endpoint: String) {
        self.endpoint = endpoint
    }

    var description: String {
        "Redis at \(endpoint) is unavailable"
    }
}
