/// Flood control (PROTOCOL.md section 7): at most `rate` messages per second on average,
/// with bursts of up to `burst`. Time is passed in, so the bucket is pure and testable.
public struct TokenBucket: Sendable, Equatable {
    public let rate: Double
    public let burst: Double
    private var tokens: Double
    private var last: UInt64?

    public init(rate: Double, burst: Int) {
        precondition(rate > 0 && burst > 0, "flood rate and burst must be positive")
        self.rate = rate
        self.burst = Double(burst)
        self.tokens = Double(burst)
    }

    /// Takes `count` tokens at `nanoseconds` (a monotonic clock), all or none; false when
    /// the bucket holds fewer.
    public mutating func take(_ count: Int = 1, at nanoseconds: UInt64) -> Bool {
        if let last, nanoseconds > last {
            tokens = min(burst, tokens + Double(nanoseconds - last) / 1e9 * rate)
        }
        last = max(last ?? nanoseconds, nanoseconds)
        let wanted = Double(count)
        guard tokens >= wanted else { return false }
        tokens -= wanted
        return true
    }
}
