import ChorusTesting
@testable import RedisClient
import NIOCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The test helper itself.
@Suite struct RedisServerTests {
    @Test func restartKeepsThePortAndEmptiesTheData() async throws {
        try await RedisServer.with { redis in
            let port = redis.port
            let before = try await RedisTestSupport.connect(redis)
            _ = try await before.send(["SET", "k", "v"]).get()
            try await redis.restart()
            #expect(redis.port == port && redis.isRunning)
            try await before.closeFuture.get()  // the old server closed it
            let after = try await RedisTestSupport.connect(redis)
            #expect(try await after.send(["GET", "k"]).get().isNull)
            #expect(try await after.send(["CONFIG", "GET", "save"]).get().array?.last?.string == "")
            #expect(try await after.send(["CONFIG", "GET", "appendonly"]).get().array?.last?.string == "no")
            after.close()
        }
    }

    @Test func pauseAndResume() async throws {
        try await RedisServer.with { redis in
            var configuration = try RedisConfiguration(url: redis.url)
            configuration.replyTimeout = .seconds(10)
            let connection = try await RedisTestSupport.connect(configuration)
            redis.pause()
            let reply = connection.send(["PING"])
            try await Task.sleep(for: .milliseconds(200))
            redis.resume()
            #expect(try await reply.get() == .simpleString("PONG"))
            connection.close()
        }
    }

    @Test func stopIsQuickAndIdempotent() async throws {
        let redis = try await RedisServer.start(password: "pw")
        let pid = try #require(redis.pid)
        let started = ContinuousClock.now
        await redis.stop()
        #expect(ContinuousClock.now - started < .seconds(2), "stop should not need the SIGKILL fallback")
        await redis.stop()
        #expect(!redis.isRunning && redis.pid == nil)
        #expect(kill(pid, 0) != 0, "the process is gone")
    }

    @Test func extraArgumentsAndParallelServers() async throws {
        async let one = RedisServer.start(arguments: ["--databases", "4"])
        async let two = RedisServer.start()
        let (first, second) = try await (one, two)
        #expect(first.port != second.port)
        let connection = try await RedisTestSupport.connect(first)
        #expect(try await connection.send(["CONFIG", "GET", "databases"]).get().array?.last?.string == "4")
        connection.close()
        await first.stop()
        await second.stop()
    }
}
