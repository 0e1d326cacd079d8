import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Keeps one command connection and one subscriber connection to Redis alive.
///
/// - `start()` makes the first connection (and throws if Redis cannot be reached then).
/// - When either connection fails, both are closed and the link reconnects with exponential
///   backoff and jitter (`RedisBackoff`) until it succeeds or is shut down; no busy loop.
/// - A connection counts only once both connections answered a PING.
/// - After a reconnection, the link re-subscribes every channel it was asked to (see
///   `subscribe`), then runs `onReconnect` (the owner re-registers its state, with `send`), and
///   only then reports itself connected again. If `onReconnect` throws, the attempt counts as
///   failed and is retried.
/// - While there is no connection, `send` fails at once with `RedisUnavailable`: nothing is
///   buffered. During the re-subscription and `onReconnect`, `send` works but `isConnected`
///   is still false.
/// - Logs one line per state change (connected, lost, reconnected) with the redacted endpoint.
///
/// Messages of all subscribed channels go to `onMessages`, one call per read (see
/// `RedisMessageBatchHandler`), on `eventLoop`. Messages published while disconnected are lost.
public final class RedisLink: Sendable {
    public typealias ReconnectHook = @Sendable () async throws -> Void

    public let eventLoop: any EventLoop
    let configuration: RedisConfiguration
    let backoff: RedisBackoff
    private let logger: Logger
    private let onMessages: RedisMessageBatchHandler
    private let onReconnect: ReconnectHook?
    private let state = Mutex(State())

    private struct State: Sendable {
        enum Phase: Equatable, Sendable {
            case idle
            /// The first connection, from `start()`.
            case starting
            /// Waiting for the next reconnection attempt.
            case waiting
            /// A reconnection attempt is connecting.
            case reconnecting
            /// Connected; re-subscribing and running `onReconnect` (not yet available).
            case handshaking
            case connected
            case shutdown
        }

        var phase = Phase.idle
        /// Bumped whenever connections are dropped, so late callbacks of old ones are ignored.
        var generation = 0
        var connection: RedisConnection?
        var subscriber: RedisSubscriberConnection?
        /// Channels to be subscribed, kept across reconnections.
        var channels = Set<ByteBuffer>()
        /// Failed attempts since the connection was lost.
        var attempts = 0
        var lostAt: NIODeadline?
        var retry: Scheduled<Void>?
        var healthCheck: RepeatedTask?

        var hasConnection: Bool {
            phase == .connected || phase == .handshaking
        }
    }

    /// A link to `configuration`, reconnecting with the default backoff (100 ms doubling to
    /// 2 s, with jitter).
    public convenience init(
        configuration: RedisConfiguration,
        eventLoop: any EventLoop,
        logger: Logger,
        onMessages: @escaping RedisMessageBatchHandler,
        onReconnect: ReconnectHook? = nil
    ) {
        self.init(configuration: configuration, eventLoop: eventLoop, logger: logger, backoff: RedisBackoff(),
                  onMessages: onMessages, onReconnect: onReconnect)
    }

    init(
        configuration: RedisConfiguration,
        eventLoop: any EventLoop,
        logger: Logger,
        backoff: RedisBackoff,
        onMessages: @escaping RedisMessageBatchHandler,
        onReconnect: ReconnectHook? = nil
    ) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.backoff = backoff
        var logger = logger
        logger[metadataKey: "redis"] = "\(configuration.redacted)"
        self.logger = logger
        self.onMessages = onMessages
        self.onReconnect = onReconnect
    }

    // MARK: Public API

    /// True while connected and past re-subscription and `onReconnect`.
    public var isConnected: Bool {
        state.withLock { $0.phase == .connected }
    }

    /// The channels the link keeps subscribed.
    var subscribedChannels: Set<ByteBuffer> {
        state.withLock { $0.channels }
    }

    /// Connects both connections (`onReconnect` is not called for this first connection).
    /// Throws the connection error if Redis cannot be reached or rejects the handshake; the
    /// link then stays stopped and `start()` may be called again. From then on, until
    /// `shutdown()`, the link reconnects by itself.
    public func start() async throws {
        try await eventLoop.flatSubmit { self.startOnLoop() }.get()
    }

    /// Closes both connections and stops reconnecting. Pending commands fail.
    public func shutdown() async {
        try? await eventLoop.flatSubmit { self.shutdownOnLoop() }.get()
    }

    /// Sends one command on the command connection; fails at once with `RedisUnavailable`
    /// while disconnected.
    public func send(_ argv: [ByteBuffer]) -> EventLoopFuture<RESPValue> {
        guard let connection = currentConnection() else { return eventLoop.makeFailedFuture(unavailable) }
        return connection.send(argv)
    }

    public func send(_ argv: [String]) -> EventLoopFuture<RESPValue> {
        guard let connection = currentConnection() else { return eventLoop.makeFailedFuture(unavailable) }
        return connection.send(argv)
    }

    /// Subscribes to `channels` and remembers them: they are subscribed again after every
    /// reconnection. While disconnected this fails with `RedisUnavailable`, but the channels are
    /// still remembered (call `unsubscribe` to forget them).
    public func subscribe(_ channels: [ByteBuffer]) -> EventLoopFuture<Void> {
        let subscriber = state.withLock { state -> RedisSubscriberConnection? in
            state.channels.formUnion(channels)
            return state.hasConnection ? state.subscriber : nil
        }
        guard let subscriber else { return eventLoop.makeFailedFuture(unavailable) }
        return subscriber.subscribe(channels)
    }

    /// Forgets `channels` and unsubscribes from them; succeeds at once while disconnected.
    public func unsubscribe(_ channels: [ByteBuffer]) -> EventLoopFuture<Void> {
        let subscriber = state.withLock { state -> RedisSubscriberConnection? in
            state.channels.subtract(channels)
            return state.hasConnection ? state.subscriber : nil
        }
        guard let subscriber else { return eventLoop.makeSucceededVoidFuture() }
        return subscriber.unsubscribe(channels)
    }

    // MARK: Internals (on the event loop)

    private var unavailable: RedisUnavailable {
        RedisUnavailable(endpoint: configuration.redacted)
    }

    private func currentConnection() -> RedisConnection? {
        state.withLock { $0.hasConnection ? $0.connection : nil }
    }

    private func startOnLoop() -> EventLoopFuture<Void> {
        let generation = state.withLock { state -> Int? in
            guard state.phase == .idle else { return nil }
            state.phase = .starting
            state.generation += 1
            return state.generation
        }
        guard let generation else {
            let phase = state.withLock { $0.phase }
            return phase == .shutdown
                ? eventLoop.makeFailedFuture(unavailable)
                : eventLoop.makeSucceededVoidFuture()  // already started
        }
        return open().flatMap { connection, subscriber in
            self.establish(connection, subscriber, generation: generation, reconnection: false)
        }.flatMapErrorThrowing { error in
            self.state.withLock { state in
                if state.generation == generation, state.phase == .starting { state.phase = .idle }
            }
            self.logger.warning("Cannot connect to Redis: \(error)")
            throw error
        }.map {
            self.logger.info("Connected to Redis")
        }
    }

    /// Opens both connections; if one fails, closes the other.
    private func open() -> EventLoopFuture<(RedisConnection, RedisSubscriberConnection)> {
        let connection = RedisConnection.connect(to: configuration, eventLoop: eventLoop, logger: logger)
        let subscriber = RedisSubscriberConnection.connect(
            to: configuration, eventLoop: eventLoop, logger: logger, onMessages: onMessages)
        return connection.and(subscriber).flatMapError { error in
            connection.whenSuccess { $0.close() }
            subscriber.whenSuccess { $0.close() }
            return self.eventLoop.makeFailedFuture(error)
        }
    }

    /// Installs fresh connections: re-subscribes, runs `onReconnect` for reconnections, then
    /// marks the link connected. On failure closes both and fails.
    private func establish(
        _ connection: RedisConnection, _ subscriber: RedisSubscriberConnection, generation: Int, reconnection: Bool
    ) -> EventLoopFuture<Void> {
        let channels = state.withLock { state -> [ByteBuffer]? in
            guard state.generation == generation, state.phase == (reconnection ? .reconnecting : .starting) else { return nil }
            state.phase = .handshaking
            state.connection = connection
            state.subscriber = subscriber
            return Array(state.channels)
        }
        guard let channels else {
            connection.close()
            subscriber.close()
            return eventLoop.makeFailedFuture(unavailable)
        }
        connection.closeFuture.whenComplete { _ in self.lost(generation: generation, reason: connection.closeError()) }
        subscriber.closeFuture.whenComplete { _ in self.lost(generation: generation, reason: subscriber.closeError()) }

        // Both connections must answer before the link counts as connected (a frozen Redis
        // still accepts TCP connections).
        var ready = connection.send(["PING"]).and(subscriber.ping()).and(subscriber.subscribe(channels)).map { _ in }
        if reconnection, let onReconnect {
            ready = ready.flatMap { self.eventLoop.makeFutureWithTask { try await onReconnect() } }
        }
        return ready.flatMapThrowing {
            let established = self.state.withLock { state -> Bool in
                guard state.generation == generation, state.phase == .handshaking,
                      connection.isActive, subscriber.isActive
                else { return false }
                state.phase = .connected
                return true
            }
            guard established else {
                throw (connection.closeError() ?? subscriber.closeError()).map { $0 as any Error } ?? self.unavailable
            }
            self.startHealthCheck(connection, subscriber, generation: generation)
        }.flatMapError { error in
            self.state.withLock { state in
                if state.generation == generation, state.phase == .handshaking {
                    state.phase = reconnection ? .reconnecting : .starting
                    state.connection = nil
                    state.subscriber = nil
                }
            }
            connection.close()
            subscriber.close()
            return self.eventLoop.makeFailedFuture(error)
        }
    }

    /// A connection closed. Only matters when it is the current, established one.
    private func lost(generation: Int, reason: RedisConnectionError?) {
        let dropped = state.withLock { state -> (RedisConnection?, RedisSubscriberConnection?, RepeatedTask?)? in
            guard state.generation == generation, state.phase == .connected else { return nil }
            let dropped = (state.connection, state.subscriber, state.healthCheck)
            state.connection = nil
            state.subscriber = nil
            state.healthCheck = nil
            state.attempts = 0
            state.lostAt = .now()
            return dropped
        }
        guard let (connection, subscriber, healthCheck) = dropped else { return }
        healthCheck?.cancel()
        connection?.close()
        subscriber?.close()
        logger.warning("Lost connection to Redis (\(reason ?? .connectionClosed)); reconnecting")
        scheduleReconnect()
    }

    private func scheduleReconnect() {
        state.withLock { state in
            guard state.phase != .shutdown else { return }
            state.attempts += 1
            state.generation += 1
            state.phase = .waiting
            let generation = state.generation
            let delay = backoff.delay(forAttempt: state.attempts)
            state.retry = eventLoop.scheduleTask(in: delay) { self.reconnect(generation: generation) }
        }
    }

    private func reconnect(generation: Int) {
        let proceed = state.withLock { state -> Bool in
            guard state.generation == generation, state.phase == .waiting else { return false }
            state.phase = .reconnecting
            state.retry = nil
            return true
        }
        guard proceed else { return }
        open().flatMap { connection, subscriber in
            self.establish(connection, subscriber, generation: generation, reconnection: true)
        }.whenComplete { result in
            switch result {
            case .success:
                let (attempts, lostAt) = self.state.withLock { ($0.attempts, $0.lostAt) }
                let outage = lostAt.map { Double((NIODeadline.now() - $0).nanoseconds / 1_000_000) / 1000 } ?? 0
                self.state.withLock { $0.attempts = 0 }
                self.logger.info("Reconnected to Redis after \(attempts) attempt\(attempts == 1 ? "" : "s") (\(outage) s)")
            case .failure(let error):
                let stillOurs = self.state.withLock { $0.generation == generation && $0.phase == .reconnecting }
                guard stillOurs else { return }
                if error is RedisConnectionError || error is RedisUnavailable {
                    self.logger.debug("Redis reconnection attempt failed: \(error)")
                } else {
                    self.logger.warning("Reconnected to Redis, but onReconnect failed (\(error)); retrying")
                }
                self.scheduleReconnect()
            }
        }
    }

    private func startHealthCheck(_ connection: RedisConnection, _ subscriber: RedisSubscriberConnection, generation: Int) {
        guard let interval = configuration.healthCheckInterval else { return }
        // A missing pong trips the reply timeout, which closes the connection.
        let task = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            _ = connection.send(["PING"])
            _ = subscriber.ping()
        }
        let keep = state.withLock { state -> Bool in
            guard state.generation == generation, state.phase == .connected else { return false }
            state.healthCheck = task
            return true
        }
        if !keep { task.cancel() }
    }

    private func shutdownOnLoop() -> EventLoopFuture<Void> {
        let dropped = state.withLock { state in
            let dropped = (state.connection, state.subscriber, state.healthCheck, state.retry)
            state.phase = .shutdown
            state.generation += 1
            state.connection = nil
            state.subscriber = nil
            state.healthCheck = nil
            state.retry = nil
            return dropped
        }
        let (connection, subscriber, healthCheck, retry) = dropped
        healthCheck?.cancel()
        retry?.cancel()
        let closed = [connection?.close(), subscriber?.close()].compactMap { $0 }
        if connection != nil { logger.info("Disconnected from Redis") }
        return EventLoopFuture.andAllComplete(closed, on: eventLoop)
    }
}

extension RedisLink: Service {
    /// Runs the link as a ServiceLifecycle service: starts it, then shuts it down on graceful
    /// shutdown or cancellation.
    public func run() async throws {
        try await start()
        try? await gracefulShutdown()
        await shutdown()
    }
}
