import ChorusTesting
@testable import RedisClient
import NIOCore
import NIOPosix
import Testing

/// Every byte from Redis may be wrong: the client must fail the connection, never crash.
@Suite struct RedisHostileServerTests {
    private func withFakeServer(
        greeting: ByteBuffer? = nil, respond: @escaping RedisFakeServer.Responder,
        _ body: (RedisConfiguration) async throws -> Void
    ) async throws {
        let server = try await RedisFakeServer.start(greeting: greeting, respond: respond)
        do {
            try await body(RedisConfiguration(port: server.port))
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test func garbageFailsTheConnection() async throws {
        try await withFakeServer(respond: { _ in ByteBuffer(string: "HTTP/1.1 400 Bad Request\r\n\r\n") }) { configuration in
            let connection = try await RedisTestSupport.connect(configuration)
            let first = connection.send(["PING"])
            let second = connection.send(["PING"])
            for reply in [first, second] {
                let error = await RedisTestSupport.error(of: reply)
                guard case .protocolError(let message) = error as? RedisConnectionError else {
                    Issue.record("\(String(describing: error))")
                    continue
                }
                #expect(message.contains("\"H\""))
            }
            try await connection.closeFuture.get()
            await #expect(throws: RedisConnectionError.self) { try await connection.send(["PING"]).get() }
        }
    }

    @Test func unsolicitedReplyFailsTheConnection() async throws {
        try await withFakeServer(greeting: ByteBuffer(string: "+SURPRISE\r\n"), respond: { _ in nil }) { configuration in
            let connection: RedisConnection
            do {
                connection = try await RedisTestSupport.connect(configuration)
            } catch {
                // The garbage can arrive before the connection is set up: then connecting fails.
                #expect(error as? RedisConnectionError == .connectionClosed, "\(error)")
                return
            }
            try await connection.closeFuture.get()
            let error = await RedisTestSupport.error(of: connection.send(["PING"]))
            guard case .protocolError(let message) = error as? RedisConnectionError else {
                Issue.record("\(String(describing: error))")
                return
            }
            #expect(message.contains("unexpected reply"))
        }
    }

    @Test func oversizedBulkFailsTheConnection() async throws {
        var bytes = ByteBuffer(string: "$100000000\r\n")
        bytes.writeRepeatingByte(UInt8(ascii: "x"), count: 300_000)
        let huge = bytes
        try await withFakeServer(respond: { _ in huge }) { configuration in
            var configuration = configuration
            configuration.maxReplyBytes = 64 * 1024
            let connection = try await RedisTestSupport.connect(configuration)
            await #expect(throws: RedisConnectionError.replyTooLarge(limit: 64 * 1024)) {
                try await connection.send(["GET", "x"]).get()
            }
            try await connection.closeFuture.get()
        }
    }

    @Test func absurdArrayHeaderFailsTheConnection() async throws {
        try await withFakeServer(respond: { _ in ByteBuffer(string: "*2147483647\r\n:1\r\n") }) { configuration in
            let connection = try await RedisTestSupport.connect(configuration)
            await #expect(throws: RedisConnectionError.replyTooLarge(limit: configuration.maxReplyBytes)) {
                try await connection.send(["LRANGE", "x", "0", "-1"]).get()
            }
        }
    }

    @Test func randomBytesNeverCrash() async throws {
        var generator = SystemRandomNumberGenerator()
        let seed = generator.next()
        var random = SplitMix64(seed: seed)
        for round in 0..<60 {
            // Random bytes, biased towards RESP-looking prefixes.
            let prefixes = ["+", "-", ":", "$", "*", "$-1", "*-1", "*3\r\n", "$5\r\nab", "*1\r\n*1\r\n*"]
            var bytes = ByteBuffer(string: prefixes[Int(random.next() % UInt64(prefixes.count))])
            for _ in 0..<Int(random.next() % 64) {
                let pick = random.next() % 4
                bytes.writeInteger(pick == 0 ? UInt8(ascii: "\r") : pick == 1 ? UInt8(ascii: "\n") : UInt8(truncatingIfNeeded: random.next()))
            }
            let response = bytes
            try await withFakeServer(respond: { _ in response }) { configuration in
                var configuration = configuration
                configuration.replyTimeout = .milliseconds(200)
                let connection = try await RedisTestSupport.connect(configuration)
                // Either a value, an error reply, or a connection error: anything but a crash or a hang.
                let outcome = await RedisTestSupport.error(of: connection.send(["PING"]))
                if let outcome, !(outcome is RedisConnectionError), !(outcome is RedisCommandError) {
                    Issue.record("round \(round) (seed \(seed)): unexpected \(outcome)")
                }
                connection.close()
            }
        }
    }

    @Test func subscriberSurvivesGarbageAfterMessages() async throws {
        let collector = RedisMessageCollector()
        let confirmation = "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
        let messages = (0..<20).map { "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$\(String($0).count)\r\n\($0)\r\n" }.joined()
        try await withFakeServer(respond: { request in
            String(buffer: request).contains("SUBSCRIBE") ? ByteBuffer(string: confirmation + messages + "!garbage") : nil
        }) { configuration in
            let subscriber = try await RedisSubscriberConnection.connect(
                to: configuration, eventLoop: RedisTestSupport.eventLoop, logger: RedisTestSupport.logger,
                onMessages: collector.handler
            ).get()
            // Confirmation, messages and garbage arrive in one read: the subscription completes,
            // the 20 messages arrive in one batch, then the connection fails.
            try await subscriber.subscribe(["ch"]).get()
            #expect(collector.all == [(0..<20).map { "ch:\($0)" }])
            try await subscriber.closeFuture.get()
            await #expect(throws: RedisConnectionError.self) { try await subscriber.subscribe(["other"]).get() }
        }
    }
}
