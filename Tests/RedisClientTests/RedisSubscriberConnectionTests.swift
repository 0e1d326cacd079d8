import ChorusTesting
@testable import RedisClient
import NIOCore
import Testing

@Suite struct RedisSubscriberConnectionTests {
    private func subscriber(_ redis: RedisServer, _ collector: RedisMessageCollector) async throws -> RedisSubscriberConnection {
        try await RedisSubscriberConnection.connect(
            to: try RedisConfiguration(url: redis.url), eventLoop: RedisTestSupport.eventLoop,
            logger: RedisTestSupport.logger, onMessages: collector.handler
        ).get()
    }

    @Test func thousandMessagesArriveInOrderInBatches() async throws {
        try await RedisServer.with { redis in
            let collector = RedisMessageCollector()
            let subscriber = try await subscriber(redis, collector)
            try await subscriber.subscribe([ByteBuffer(string: "a"), ByteBuffer(string: "b")]).get()

            let publisher = try await RedisTestSupport.connect(redis)
            let sent = (0..<1_000).map { index in (index % 2 == 0 ? "a" : "b") + ":" + "message \(index)" }
            let receivers = sent.map { text in
                let parts = text.split(separator: ":", maxSplits: 1)
                return publisher.send(["PUBLISH", String(parts[0]), String(parts[1])])
            }
            for receiver in receivers {
                #expect(try await receiver.get() == .integer(1))
            }
            #expect(await eventually { collector.messages.count >= sent.count })
            #expect(collector.messages == sent)
            #expect(collector.all.count < sent.count, "messages should arrive in batches")
            #expect(collector.all.allSatisfy { !$0.isEmpty })

            try await subscriber.unsubscribe(["a"]).get()
            #expect(try await publisher.send(["PUBLISH", "a", "x"]).get() == .integer(0))
            #expect(try await publisher.send(["PUBLISH", "b", "y"]).get() == .integer(1))
            #expect(await eventually { collector.messages.last == "b:y" })
            try await subscriber.ping().get()
            subscriber.close()
            publisher.close()
        }
    }

    @Test func emptyAndRepeatedSubscriptions() async throws {
        try await RedisServer.with { redis in
            let collector = RedisMessageCollector()
            let subscriber = try await subscriber(redis, collector)
            try await subscriber.ping().get()  // before any subscription: +PONG
            try await subscriber.subscribe([ByteBuffer]()).get()
            try await subscriber.unsubscribe([ByteBuffer]()).get()
            // Duplicates are confirmed once per argument.
            try await subscriber.subscribe(["c", "c", "d"]).get()
            try await subscriber.unsubscribe(["never-subscribed", "c", "d"]).get()
            // Back to plain mode and in again.
            try await subscriber.subscribe(["e"]).get()
            let publisher = try await RedisTestSupport.connect(redis)
            #expect(try await publisher.send(["PUBLISH", "e", "binary\u{0}payload"]).get() == .integer(1))
            #expect(await eventually { collector.messages == ["e:binary\u{0}payload"] })
            subscriber.close()
            publisher.close()
        }
    }

    @Test func binaryChannelsAndPayloads() async throws {
        try await RedisServer.with { redis in
            let received = RedisBinaryBox()
            let subscriber = try await RedisSubscriberConnection.connect(
                to: try RedisConfiguration(url: redis.url), eventLoop: RedisTestSupport.eventLoop,
                logger: RedisTestSupport.logger, onMessages: { batch in received.append(batch) }
            ).get()
            let channel = ByteBuffer(bytes: [0xFF, 0x00, 0x0D, 0x0A])
            try await subscriber.subscribe([channel]).get()
            let publisher = try await RedisTestSupport.connect(redis)
            let payload = ByteBuffer(repeating: 0xAB, count: 100_000)  // spans many reads
            #expect(try await publisher.send([ByteBuffer(string: "PUBLISH"), channel, payload]).get() == .integer(1))
            #expect(await eventually { received.count == 1 })
            #expect(received.first?.channel == channel && received.first?.payload == payload)
            subscriber.close()
            publisher.close()
        }
    }
}
