@testable import RedisClient
import NIOCore
import Testing

@Suite struct RedisBackoffTests {
    @Test func doublesUpToTheMaximum() {
        let backoff = RedisBackoff()
        let expected: [Int64] = [100, 200, 400, 800, 1600, 2000, 2000]
        for (index, milliseconds) in expected.enumerated() {
            #expect(backoff.baseDelay(forAttempt: index + 1) == .milliseconds(milliseconds))
        }
        #expect(backoff.baseDelay(forAttempt: 10_000) == .seconds(2))
    }

    @Test func jitterStaysInRangeAndVaries() {
        let backoff = RedisBackoff()
        var seen = Set<Int64>()
        for _ in 0..<200 {
            let delay = backoff.delay(forAttempt: 3)
            #expect(delay >= .milliseconds(200) && delay <= .milliseconds(400))
            seen.insert(delay.nanoseconds)
        }
        #expect(seen.count > 100)
        #expect(RedisBackoff(jitter: 0).delay(forAttempt: 2) == .milliseconds(200))
    }
}
