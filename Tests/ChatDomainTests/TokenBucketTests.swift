import ChatDomain
import Testing

/// PROTOCOL.md section 7, Flooding: 10 messages per second on average, bursts of 20.
@Suite struct TokenBucketTests {
    static let ms: UInt64 = 1_000_000
    static let second: UInt64 = 1_000_000_000
    /// An arbitrary monotonic-clock origin, far from zero.
    static let t0: UInt64 = 7 * 3600 * second

    /// Takes `count` tokens at `time` and returns how many were granted.
    static func take(_ bucket: inout TokenBucket, _ count: Int, at time: UInt64) -> Int {
        (0..<count).reduce(0) { granted, _ in granted + (bucket.take(at: time) ? 1 : 0) }
    }

    /// Takes one token; whether it was granted.
    static func once(_ bucket: inout TokenBucket, at time: UInt64) -> Bool {
        bucket.take(at: time)
    }

    @Test func burstOfTwentyThenRefusal() {
        var bucket = TokenBucket(rate: 10, burst: 20)
        #expect(Self.take(&bucket, 20, at: Self.t0) == 20)
        #expect(!Self.once(&bucket, at: Self.t0))
        #expect(!Self.once(&bucket, at: Self.t0 + 50 * Self.ms))
    }

    @Test func refillsTenPerSecond() {
        var bucket = TokenBucket(rate: 10, burst: 20)
        #expect(Self.take(&bucket, 20, at: Self.t0) == 20)
        // 100 ms later: exactly one more.
        #expect(Self.take(&bucket, 5, at: Self.t0 + 100 * Self.ms) == 1)
        // One second after that: ten more.
        #expect(Self.take(&bucket, 30, at: Self.t0 + 1100 * Self.ms) == 10)
    }

    @Test func partialRefillIsNotEnough() {
        var bucket = TokenBucket(rate: 10, burst: 20)
        _ = Self.take(&bucket, 20, at: Self.t0)
        #expect(!Self.once(&bucket, at: Self.t0 + 99 * Self.ms))
        #expect(Self.once(&bucket, at: Self.t0 + 100 * Self.ms))
    }

    @Test("never more than the burst after a long idle", arguments: [3 * second, 60 * second, 86_400 * second])
    func longIdleCapsAtBurst(_ idle: UInt64) {
        var bucket = TokenBucket(rate: 10, burst: 20)
        _ = Self.take(&bucket, 20, at: Self.t0)
        #expect(Self.take(&bucket, 100, at: Self.t0 + idle) == 20)
    }

    @Test func freshBucketHoldsOnlyTheBurst() {
        var bucket = TokenBucket(rate: 10, burst: 20)
        #expect(Self.take(&bucket, 100, at: Self.t0) == 20)
    }

    @Test func steadyRateIsAlwaysAccepted() {
        var bucket = TokenBucket(rate: 10, burst: 20)
        _ = Self.take(&bucket, 20, at: Self.t0)
        for step in 1...100 {
            #expect(Self.once(&bucket, at: Self.t0 + UInt64(step) * 100 * Self.ms), "message \(step) at 10/s refused")
        }
    }

    @Test func averageOverTenSecondsIsBurstPlusRate() {
        var bucket = TokenBucket(rate: 10, burst: 20)
        var granted = 0
        for tick in 0...10_000 where bucket.take(at: Self.t0 + UInt64(tick) * Self.ms) {
            granted += 1
        }
        // 20 at once plus 10 per second for 10 s; one less is tolerated for rounding.
        #expect((119...120).contains(granted))
    }

    @Test func clockGoingBackwardsGivesNothing() {
        var bucket = TokenBucket(rate: 10, burst: 20)
        _ = Self.take(&bucket, 20, at: Self.t0 + 10 * Self.second)
        #expect(!Self.once(&bucket, at: Self.t0))
        #expect(!Self.once(&bucket, at: Self.t0 + 10 * Self.second))
        #expect(Self.once(&bucket, at: Self.t0 + 10 * Self.second + 100 * Self.ms))
    }

    @Test func configuredRateAndBurst() {
        var bucket = TokenBucket(rate: 1, burst: 3)
        #expect(Self.take(&bucket, 10, at: Self.t0) == 3)
        #expect(Self.take(&bucket, 10, at: Self.t0 + Self.second / 2) == 0)
        #expect(Self.take(&bucket, 10, at: Self.t0 + Self.second) == 1)
    }
}
