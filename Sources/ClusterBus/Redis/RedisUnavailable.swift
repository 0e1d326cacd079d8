/// `RedisLink` has no working connection right now (Redis is down, or the link is reconnecting
/// or shut down). Returned immediately: commands are never buffered while disconnected.
public struct RedisUnavailable: Error, Sendable, Hashable, CustomStringConvertible {
    /// The Redis endpoint, password redacted.
    public let endpoint: String

    public init(endpoint: String) {
        self.endpoint = endpoint
    }

    public var description: String {
        "Redis at \(endpoint) is unavailable"
    }
}
