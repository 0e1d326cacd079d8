import NIOCore

/// Delays between reconnection attempts: exponential (by default 100 ms doubling up to 2 s),
/// each randomly shortened by up to `jitter` of itself so that many nodes losing the same
/// Redis do not reconnect in lockstep.
struct RedisBackoff: Sendable, Hashable {
    var initialDelay: TimeAmount
    var maximumDelay: TimeAmount
    var multiplier: Double
    /// Fraction of each delay that is random: the delay for an attempt is uniform in
    /// `[(1 - jitter) × base, base]`. 0 disables jitter; clamped to 0...1.
    var jitter: Double

    init(
        initialDelay: TimeAmount = .milliseconds(100),
        maximumDelay: TimeAmount = .seconds(2),
        multiplier: Double = 2,
        jitter: Double = 0.5
    ) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// The delay before attempt `attempt` (1 for the first retry), without jitter.
    func baseDelay(forAttempt attempt: Int) -> TimeAmount {
        let initial = Double(max(initialDelay.nanoseconds, 0))
        let maximum = Double(max(maximumDelay.nanoseconds, initialDelay.nanoseconds, 0))
        let exponent = Double(max(attempt - 1, 0))
        let delay = min(initial * pow(max(multiplier, 1), exponent), maximum)
        return .nanoseconds(Int64(delay.isFinite ? delay : maximum))
    }

    /// The delay before attempt `attempt` (1 for the first retry), with jitter.
    func delay(forAttempt attempt: Int) -> TimeAmount {
        var generator = SystemRandomNumberGenerator()
        return delay(forAttempt: attempt, using: &generator)
    }

    func delay(forAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> TimeAmount {
        let base = Double(baseDelay(forAttempt: attempt).nanoseconds)
        let fraction = min(max(jitter, 0), 1)
        let factor = 1 - fraction * Double.random(in: 0..<1, using: &generator)
        return .nanoseconds(Int64(base * factor))
    }
}

private func pow(_ base: Double, _ exponent: Double) -> Double {
    // Small integral exponents only; avoids importing Foundation for one function.
    var result = 1.0
    var remaining = Int(min(exponent, 64))
    while remaining > 0 && result < .greatestFiniteMagnitude {
        result *= base
        remaining -= 1
    }
    return result
}
