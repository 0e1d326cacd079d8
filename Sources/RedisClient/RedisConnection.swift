import Logging
import NIOCore

/// One Redis connection for commands, on a SwiftNIO channel.
///
/// Commands are pipelined: `send` writes at once and never waits for earlier replies; replies
/// complete the futures in order. Callable from any thread (off the event loop, `send` hops
/// with one `execute`). Error replies fail with `RedisCommandError` and leave the connection
/// usable; connection failures (`RedisConnectionError`) close it and fail everything pending.
/// No reconnection here; see `RedisLink`.
final class RedisConnection: Sendable {
    let eventLoop: any EventLoop
    let configuration: RedisConfiguration
    private let channel: any Channel
    private let handler: NIOLoopBound<RedisConnectionHandler>

    private init(channel: any Channel, handler: NIOLoopBound<RedisConnectionHandler>, configuration: RedisConfiguration) {
        self.eventLoop = channel.eventLoop
        self.channel = channel
        self.handler = handler
        self.configuration = configuration
    }

    /// Connects, then authenticates (`AUTH [username] password`) and selects the database when
    /// configured. Fails with a `RedisConnectionError` (`connectTimeout`, `connectFailed`,
    /// `authenticationFailed`, `selectFailed`, ...). `eventLoop` must be a NIOPosix event loop.
    static func connect(
        to configuration: RedisConfiguration, eventLoop: any EventLoop, logger: Logger
    ) -> EventLoopFuture<RedisConnection> {
        RedisBootstrap.connect(to: configuration, eventLoop: eventLoop, mode: .commands, logger: logger)
            .map { channel, handler in
                RedisConnection(channel: channel, handler: handler, configuration: configuration)
            }
    }

    /// Sends one command, e.g. `[ByteBuffer(string: "GET"), key]`.
    func send(_ argv: [ByteBuffer]) -> EventLoopFuture<RESPValue> {
        send(.buffers(argv))
    }

    /// Sends one command, e.g. `["SET", "key", "value"]` (UTF-8).
    func send(_ argv: [String]) -> EventLoopFuture<RESPValue> {
        send(.strings(argv))
    }

    private func send(_ arguments: RedisConnectionHandler.Request.Arguments) -> EventLoopFuture<RESPValue> {
        let promise = eventLoop.makePromise(of: RESPValue.self)
        let request = RedisConnectionHandler.Request(arguments: arguments, kind: .command(promise))
        if eventLoop.inEventLoop {
            handler.value.enqueue(request)
        } else {
            eventLoop.execute { [handler] in handler.value.enqueue(request) }
        }
        return promise.futureResult
    }

    /// False once the connection failed or was closed.
    var isActive: Bool {
        channel.isActive
    }

    /// Closes the connection; pending commands fail with `RedisConnectionError.connectionClosed`.
    @discardableResult
    func close() -> EventLoopFuture<Void> {
        channel.close().recover { _ in }  // already closed is fine
    }

    /// Completes when the connection is closed, for whatever reason.
    var closeFuture: EventLoopFuture<Void> {
        channel.closeFuture
    }

    /// Why the connection closed (nil while open, `connectionClosed` after a plain close).
    /// Must be called on `eventLoop`.
    func closeError() -> RedisConnectionError? {
        handler.value.closeError
    }
}
