import ChorusTesting
@testable import RedisClient
import Logging
import NIOCore
import Synchronization
import Testing

@Suite struct RedisLinkTests {
    private final class Counter: Sendable {
        private let value = Mutex(0)
        func increment() -> Int { value.withLock { $0 += 1; return $0 } }
        var current: Int { value.withLock { $0 } }
    }

    @Test func reconnectsResubscribesAndFailsFastDuringTheOutage() async throws {
        try await RedisServer.with(password: "link-secret") { redis in
            let logs = CapturingLogHandler.Store()
            let collector = RedisMessageCollector()
            let reconnects = Counter()
            var configuration = try RedisConfiguration(url: redis.url)
            configuration.healthCheckInterval = .milliseconds(200)
            let link = RedisLink(
                configuration: configuration, eventLoop: RedisTestSupport.eventLoop,
                logger: CapturingLogHandler.logger(logs), onMessages: collector.handler,
                onReconnect: { _ = reconnects.increment() }
            )
            try await link.start()
            #expect(link.isConnected)
            try await link.subscribe([ByteBuffer(string: "events")]).get()
            #expect(try await link.send(["SET", "k", "1"]).get() == .simpleString("OK"))

            let publisher = try await RedisTestSupport.connect(redis)
            _ = try await publisher.send(["PUBLISH", "events", "before"]).get()
            #expect(await eventually { collector.messages == ["events:before"] })

            // Outage.
            await redis.stop()
            #expect(await eventually(timeout: .seconds(5)) { !link.isConnected })
            let started = ContinuousClock.now
            await #expect(throws: RedisUnavailable.self) { try await link.send(["GET", "k"]).get() }
            await #expect(throws: RedisUnavailable.self) { try await link.send([ByteBuffer(string: "PING")]).get() }
            #expect(ContinuousClock.now - started < .milliseconds(100), "send must fail fast while disconnected")
            // Subscribing while down is remembered.
            await #expect(throws: RedisUnavailable.self) { try await link.subscribe([ByteBuffer(string: "later")]).get() }
            try await Task.sleep(for: .milliseconds(500))  // a few failed attempts, no busy loop
            #expect(reconnects.current == 0)

            // Redis is back, empty.
            try await redis.restart()
            #expect(await eventually(timeout: .seconds(6)) { link.isConnected })
            #expect(reconnects.current == 1)
            #expect(try await link.send(["GET", "k"]).get().isNull)  // a new, empty Redis
            #expect(try await link.send(["INCR", "n"]).get() == .integer(1))
            #expect(link.subscribedChannels == [ByteBuffer(string: "events"), ByteBuffer(string: "later")])

            let newPublisher = try await RedisTestSupport.connect(redis)
            #expect(try await newPublisher.send(["PUBLISH", "events", "after"]).get() == .integer(1))
            #expect(try await newPublisher.send(["PUBLISH", "later", "too"]).get() == .integer(1))
            #expect(await eventually { collector.messages == ["events:before", "events:after", "later:too"] })

            await link.shutdown()
            #expect(!link.isConnected)
            await #expect(throws: RedisUnavailable.self) { try await link.send(["PING"]).get() }
            publisher.close()
            newPublisher.close()

            let lines = logs.all
            #expect(lines.contains { $0.contains("Connected to Redis") })
            #expect(lines.contains { $0.hasPrefix("warning Lost connection to Redis") })
            #expect(lines.contains { $0.contains("Reconnected to Redis after") })
            #expect(lines.allSatisfy { !$0.contains("link-secret") }, "\(lines)")
            #expect(lines.contains { $0.contains("redis=redis://:***@127.0.0.1:\(redis.port)/0") })
            // One line per state change, not one per failed attempt.
            #expect(lines.filter { !$0.hasPrefix("debug") && !$0.hasPrefix("trace") }.count <= 4, "\(lines)")
        }
    }

    @Test func startFailsWhenRedisIsDown() async throws {
        try await RedisTestSupport.withRefusingPort { port in
            let link = RedisLink(
                configuration: RedisConfiguration(port: port), eventLoop: RedisTestSupport.eventLoop,
                logger: RedisTestSupport.logger, onMessages: { _ in })
            await #expect(throws: RedisConnectionError.self) { try await link.start() }
            #expect(!link.isConnected)
            await #expect(throws: RedisUnavailable.self) { try await link.send(["PING"]).get() }
        }
        // It can be started again once Redis is there.
        try await RedisServer.with { redis in
            let link = RedisLink(
                configuration: try RedisConfiguration(url: redis.url), eventLoop: RedisTestSupport.eventLoop,
                logger: RedisTestSupport.logger, onMessages: { _ in })
            try await link.start()
            #expect(try await link.send(["PING"]).get() == .simpleString("PONG"))
            await link.shutdown()
        }
    }

    @Test func failedReconnectHookIsRetried() async throws {
        try await RedisServer.with { redis in
            let calls = Counter()
            let link = RedisLink(
                configuration: try RedisConfiguration(url: redis.url), eventLoop: RedisTestSupport.eventLoop,
                logger: RedisTestSupport.logger, onMessages: { _ in },
                onReconnect: {
                    if calls.increment() == 1 { throw RedisCommandError(message: "ERR not yet") }
                }
            )
            try await link.start()
            try await redis.restart()
            #expect(await eventually(timeout: .seconds(8)) { link.isConnected && calls.current == 2 })
            #expect(try await link.send(["PING"]).get() == .simpleString("PONG"))
            await link.shutdown()
        }
    }

    @Test func frozenRedisIsDetectedAndSurvived() async throws {
        try await RedisServer.with { redis in
            var configuration = try RedisConfiguration(url: redis.url)
            configuration.replyTimeout = .milliseconds(300)
            configuration.healthCheckInterval = .milliseconds(100)
            let link = RedisLink(
                configuration: configuration, eventLoop: RedisTestSupport.eventLoop,
                logger: RedisTestSupport.logger, onMessages: { _ in })
            try await link.start()
            redis.pause()
            #expect(await eventually(timeout: .seconds(3)) { !link.isConnected })
            try await Task.sleep(for: .milliseconds(600))
            #expect(!link.isConnected, "a frozen Redis must not count as connected")
            redis.resume()
            #expect(await eventually(timeout: .seconds(6)) { link.isConnected })
            #expect(try await link.send(["PING"]).get() == .simpleString("PONG"))
            await link.shutdown()
        }
    }
}
