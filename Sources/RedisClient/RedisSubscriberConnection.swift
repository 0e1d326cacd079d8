import Logging
import NIOCore

/// A dedicated Redis connection in pub/sub mode.
///
/// Messages go to the `onMessages` callback given at connect, in order, one call per read with
/// every message of that read (see `RedisMessageBatchHandler`). `subscribe`/`unsubscribe`
/// complete when Redis has confirmed every channel; messages read before a confirmation are
/// delivered before its future completes. Callable from any thread.
final class RedisSubscriberConnection: Sendable {
    let eventLoop: any EventLoop
    let configuration: RedisConfiguration
    private let channel: any Channel
    private let handler: NIOLoopBound<RedisConnectionHandler>

    private static let subscribeCommand = ByteBuffer(string: "SUBSCRIBE")
    private static let unsubscribeCommand = ByteBuffer(string: "UNSUBSCRIBE")

    private init(channel: any Channel, handler: NIOLoopBound<RedisConnectionHandler>, configuration: RedisConfiguration) {
        self.eventLoop = channel.eventLoop
        self.channel = channel
        self.handler = handler
        self.configuration = configuration
    }

    /// Connects and authenticates when configured (no `SELECT`: channels span databases).
    static func connect(
        to configuration: RedisConfiguration, eventLoop: any EventLoop, logger: Logger,
        onMessages: @escaping RedisMessageBatchHandler
    ) -> EventLoopFuture<RedisSubscriberConnection> {
        RedisBootstrap.connect(to: configuration, eventLoop: eventLoop, mode: .pubSub(onMessages), logger: logger)
            .map { channel, handler in
                RedisSubscriberConnection(channel: channel, handler: handler, configuration: configuration)
            }
    }

    /// Subscribes to `channels`; completes once all are confirmed. An empty list succeeds at once.
    func subscribe(_ channels: [ByteBuffer]) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        enqueue(.init(arguments: .buffers([Self.subscribeCommand] + channels), kind: .subscribe(channels: channels.count, promise)))
        return promise.futureResult
    }

    func subscribe(_ channels: [String]) -> EventLoopFuture<Void> {
        subscribe(channels.map { ByteBuffer(string: $0) })
    }

    /// Unsubscribes from `channels`; completes once all are confirmed. An empty list succeeds at
    /// once (it does not mean "all channels" here).
    func unsubscribe(_ channels: [ByteBuffer]) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        enqueue(.init(arguments: .buffers([Self.unsubscribeCommand] + channels), kind: .unsubscribe(channels: channels.count, promise)))
        return promise.futureResult
    }

    func unsubscribe(_ channels: [String]) -> EventLoopFuture<Void> {
        unsubscribe(channels.map { ByteBuffer(string: $0) })
    }

    /// Round trip through Redis (allowed in subscribed mode); for health checks.
    func ping() -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: RESPValue.self)
        enqueue(.init(arguments: .strings(["PING"]), kind: .command(promise)))
        return promise.futureResult.map { _ in }
    }

    /// Always through the loop's task queue, even on the loop: subscriptions then reach Redis
    /// in the order they were asked for, whichever threads asked.
    private func enqueue(_ request: RedisConnectionHandler.Request) {
        eventLoop.execute { [handler] in handler.value.enqueue(request) }
    }

    var isActive: Bool {
        channel.isActive
    }

    @discardableResult
    func close() -> EventLoopFuture<Void> {
        channel.close().recover { _ in }
    }

    var closeFuture: EventLoopFuture<Void> {
        channel.closeFuture
    }

    /// Why the connection closed; must be called on `eventLoop`.
    func closeError() -> RedisConnectionError? {
        handler.value.closeError
    }
}
