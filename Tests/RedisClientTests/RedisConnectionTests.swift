import ChorusTesting
@testable import RedisClient
import NIOCore
import NIOPosix
import Testing

@Suite struct RedisConnectionTests {
    @Test func commandsAndReplyTypes() async throws {
        try await RedisServer.with { redis in
            let connection = try await RedisTestSupport.connect(redis)
            #expect(try await connection.send(["PING"]).get() == .simpleString("PONG"))
            #expect(try await connection.send(["SET", "k", "v"]).get() == .simpleString("OK"))
            #expect(try await connection.send([ByteBuffer(string: "GET"), ByteBuffer(string: "k")]).get().string == "v")
            #expect(try await connection.send(["GET", "missing"]).get() == .bulk(nil))
            #expect(try await connection.send(["RPUSH", "list", "a", "b"]).get() == .integer(2))
            #expect(try await connection.send(["LRANGE", "list", "0", "-1"]).get().array?.compactMap(\.string) == ["a", "b"])
            let binary = ByteBuffer(bytes: [0, 13, 10, 255])
            _ = try await connection.send([ByteBuffer(string: "SET"), ByteBuffer(string: "bin"), binary]).get()
            #expect(try await connection.send(["GET", "bin"]).get().buffer == binary)
            try await connection.close().get()
        }
    }

    @Test func pipelinesTenThousandCommandsInOrder() async throws {
        try await RedisServer.with { redis in
            let connection = try await RedisTestSupport.connect(redis)
            // All sent before any reply is awaited.
            let replies = (0..<10_000).map { _ in connection.send(["INCR", "counter"]) }
            var expected: Int64 = 1
            for reply in replies {
                #expect(try await reply.get() == .integer(expected))
                expected += 1
            }
            // The same from the event loop in one tick: one flush for the whole batch.
            let batch = try await connection.eventLoop.submit {
                (0..<1_000).map { _ in connection.send(["INCR", "counter"]) }
            }.get()
            #expect(try await batch.last!.get() == .integer(11_000))
            connection.close()
        }
    }

    @Test func errorRepliesAreCommandErrors() async throws {
        try await RedisServer.with { redis in
            let connection = try await RedisTestSupport.connect(redis)
            _ = try await connection.send(["SET", "text", "abc"]).get()
            let error = await RedisTestSupport.error(of: connection.send(["INCR", "text"]))
            let commandError = try #require(error as? RedisCommandError)
            #expect(commandError.code == "ERR" && commandError.message.contains("not an integer"))
            await #expect(throws: RedisCommandError.self) { try await connection.send(["NOSUCHCOMMAND"]).get() }
            // The connection is still fine.
            #expect(try await connection.send(["PING"]).get() == .simpleString("PONG"))
            connection.close()
        }
    }

    @Test func selectsTheDatabase() async throws {
        try await RedisServer.with { redis in
            let db3 = try await RedisTestSupport.connect(try RedisConfiguration(url: redis.url + "/3"))
            _ = try await db3.send(["SET", "where", "db3"]).get()
            let db0 = try await RedisTestSupport.connect(redis)
            #expect(try await db0.send(["GET", "where"]).get().isNull)
            #expect(try await db3.send(["GET", "where"]).get().string == "db3")
            let bad = await #expect(throws: RedisConnectionError.self) {
                try await RedisTestSupport.connect(try RedisConfiguration(url: redis.url + "/99999"))
            }
            guard case .selectFailed = bad else { Issue.record("\(String(describing: bad))"); return }
            db0.close()
            db3.close()
        }
    }

    @Test func closeFailsPendingAndLaterCommands() async throws {
        try await RedisServer.with { redis in
            let connection = try await RedisTestSupport.connect(redis)
            // BLPOP blocks server-side, so the command is still pending when we close.
            let blocked = connection.send(["BLPOP", "nothing", "0"])
            try await Task.sleep(for: .milliseconds(50))
            try await connection.close().get()
            await #expect(throws: RedisConnectionError.connectionClosed) { try await blocked.get() }
            await #expect(throws: RedisConnectionError.connectionClosed) { try await connection.send(["PING"]).get() }
            #expect(!connection.isActive)
            try await connection.closeFuture.get()
        }
    }

    @Test func boundsPendingCommands() async throws {
        try await RedisServer.with { redis in
            var configuration = try RedisConfiguration(url: redis.url)
            configuration.maxPendingCommands = 10
            let connection = try await RedisTestSupport.connect(configuration)
            let replies = try await connection.eventLoop.submit {
                (0..<25).map { _ in connection.send(["PING"]) }
            }.get()
            var ok = 0
            var refused = 0
            for reply in replies {
                do {
                    _ = try await reply.get()
                    ok += 1
                } catch RedisConnectionError.tooManyPendingCommands(limit: 10) {
                    refused += 1
                }
            }
            #expect(ok == 10 && refused == 15)
            #expect(try await connection.send(["PING"]).get() == .simpleString("PONG"))
            connection.close()
        }
    }

    @Test func replyTimeoutClosesTheConnection() async throws {
        try await RedisServer.with { redis in
            var configuration = try RedisConfiguration(url: redis.url)
            configuration.replyTimeout = .milliseconds(300)
            let connection = try await RedisTestSupport.connect(configuration)
            redis.pause()
            let started = ContinuousClock.now
            let first = connection.send(["PING"])
            let second = connection.send(["PING"])
            await #expect(throws: RedisConnectionError.replyTimeout(.milliseconds(300))) { try await first.get() }
            await #expect(throws: RedisConnectionError.replyTimeout(.milliseconds(300))) { try await second.get() }
            #expect(ContinuousClock.now - started < .seconds(3))
            try await connection.closeFuture.get()
            redis.resume()
        }
    }

    @Test func connectFailuresAreClear() async throws {
        try await RedisTestSupport.withRefusingPort { port in
            let error = await #expect(throws: RedisConnectionError.self) {
                try await RedisTestSupport.connect(RedisConfiguration(port: port))
            }
            guard case .connectFailed(let message) = error else { Issue.record("\(String(describing: error))"); return }
            #expect(message.contains("127.0.0.1:\(port)"))
        }

        // A listener whose accept queue is full drops SYNs: the connect times out.
        try await RedisTestSupport.withUnansweredPort { port in
            let started = ContinuousClock.now
            await #expect(throws: RedisConnectionError.connectTimeout(.milliseconds(200))) {
                try await RedisTestSupport.connect(RedisConfiguration(port: port, connectTimeout: .milliseconds(200)))
            }
            #expect(ContinuousClock.now - started < .seconds(2))
        }
    }

    @Test func sendsFromManyThreadsAtOnce() async throws {
        try await RedisServer.with { redis in
            let connection = try await RedisTestSupport.connect(redis)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<8 {
                    group.addTask { () async throws -> Void in
                        let replies = (0..<500).map { _ in connection.send(["RPUSH", "list:\(task)", "x"]) }
                        for (index, reply) in replies.enumerated() {
                            #expect(try await reply.get() == .integer(Int64(index + 1)))
                        }
                    }
                }
                try await group.waitForAll()
            }
            connection.close()
        }
    }
}
