import ChorusTesting
@testable import RedisClient
import NIOCore
import Testing

@Suite struct RedisAuthTests {
    @Test func passwordAuthentication() async throws {
        try await RedisServer.with(password: "s3cret") { redis in
            #expect(redis.url.contains(":s3cret@"))
            let connection = try await RedisTestSupport.connect(redis)
            #expect(try await connection.send(["PING"]).get() == .simpleString("PONG"))

            var wrong = try RedisConfiguration(url: redis.url)
            wrong.password = "nope"
            let error = await #expect(throws: RedisConnectionError.self) { try await RedisTestSupport.connect(wrong) }
            guard case .authenticationFailed(let message) = error else { Issue.record("\(String(describing: error))"); return }
            #expect(message.hasPrefix("WRONGPASS"))
            #expect("\(error!)".hasPrefix("Redis authentication failed: WRONGPASS"))

            // No password: connects, but commands are refused.
            let anonymous = try await RedisTestSupport.connect(RedisConfiguration(port: redis.port))
            let refused = await RedisTestSupport.error(of: anonymous.send(["GET", "x"]))
            #expect((refused as? RedisCommandError)?.code == "NOAUTH")

            // The subscriber authenticates too.
            let subscriber = try await RedisSubscriberConnection.connect(
                to: try RedisConfiguration(url: redis.url), eventLoop: RedisTestSupport.eventLoop,
                logger: RedisTestSupport.logger, onMessages: { _ in }
            ).get()
            try await subscriber.subscribe(["ch"]).get()
            subscriber.close()
            anonymous.close()
            connection.close()
        }
    }

    @Test func aclUserAuthentication() async throws {
        try await RedisServer.with(password: "admin") { redis in
            let admin = try await RedisTestSupport.connect(redis)
            _ = try await admin.send(["ACL", "SETUSER", "alice", "on", ">alice-pw", "~*", "&*", "+@all"]).get()
            let alice = try await RedisTestSupport.connect(
                try RedisConfiguration(url: "redis://alice:alice-pw@127.0.0.1:\(redis.port)/1"))
            #expect(try await alice.send(["ACL", "WHOAMI"]).get().string == "alice")
            await #expect(throws: RedisConnectionError.self) {
                try await RedisTestSupport.connect(try RedisConfiguration(url: "redis://alice:bad@127.0.0.1:\(redis.port)"))
            }
            alice.close()
            admin.close()
        }
    }

    @Test func passwordForAServerWithoutOne() async throws {
        try await RedisServer.with { redis in
            let error = await #expect(throws: RedisConnectionError.self) {
                try await RedisTestSupport.connect(RedisConfiguration(port: redis.port, password: "unneeded"))
            }
            guard case .authenticationFailed(let message) = error else { Issue.record("\(String(describing: error))"); return }
            #expect(message.contains("without any password configured"))
        }
    }
}
