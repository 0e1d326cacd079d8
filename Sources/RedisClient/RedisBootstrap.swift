import Logging
import NIOCore
import NIOPosix

/// Opens a channel to Redis with a `RedisConnectionHandler` and runs the handshake
/// (`AUTH`, `SELECT`), shared by `RedisConnection` and `RedisSubscriberConnection`.
enum RedisBootstrap {
    static func connect(
        to configuration: RedisConfiguration,
        eventLoop: any EventLoop,
        mode: RedisConnectionHandler.Mode,
        logger: Logger
    ) -> EventLoopFuture<(any Channel, NIOLoopBound<RedisConnectionHandler>)> {
        guard let bootstrap = ClientBootstrap(validatingGroup: eventLoop) else {
            return eventLoop.makeFailedFuture(RedisConnectionError.connectFailed("the event loop is not a NIOPosix event loop"))
        }
        let endpoint = "\(configuration.host):\(configuration.port)"
        return bootstrap
            .connectTimeout(configuration.connectTimeout)
            // TCP_NODELAY is a TCP-level option: `.socketOption(.tcp_nodelay)` would set
            // option 1 of SOL_SOCKET, which is SO_DEBUG, refused (EACCES) to a non-root process.
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = RedisConnectionHandler(
                        configuration: configuration, mode: mode, logger: logger, allocator: channel.allocator)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .flatMapErrorThrowing { error in
                if let error = error as? ChannelError, case .connectTimeout(let amount) = error {
                    throw RedisConnectionError.connectTimeout(amount)
                }
                throw RedisConnectionError.connectFailed("\(endpoint): \(error)")
            }
            .flatMap { channel in
                channel.eventLoop.assertInEventLoop()
                let handler: RedisConnectionHandler
                do {
                    handler = try channel.pipeline.syncOperations.handler(type: RedisConnectionHandler.self)
                } catch {
                    // The connection closed before the handshake (e.g. the server sent garbage
                    // at once): the pipeline is already torn down.
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(RedisConnectionError.connectionClosed)
                }
                let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
                return handshake(handler, configuration: configuration, on: channel.eventLoop)
                    .map { (channel, bound) }
                    .flatMapError { error in
                        channel.close(promise: nil)
                        return channel.eventLoop.makeFailedFuture(error)
                    }
            }
    }

    /// Pipelines `AUTH` and `SELECT` as configured; on the channel's event loop.
    private static func handshake(
        _ handler: RedisConnectionHandler, configuration: RedisConfiguration, on eventLoop: any EventLoop
    ) -> EventLoopFuture<Void> {
        var steps: [EventLoopFuture<Void>] = []
        if let password = configuration.password {
            let promise = eventLoop.makePromise(of: RESPValue.self)
            let argv = configuration.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]
            handler.enqueue(.init(arguments: .strings(argv), kind: .command(promise)))
            steps.append(promise.futureResult.flatMapErrorThrowing { error in
                throw (error as? RedisCommandError).map { RedisConnectionError.authenticationFailed($0.message) } ?? error
            }.map { _ in })
        }
        if configuration.db != 0, !handler.isPubSub {  // pub/sub channels do not depend on the db
            let promise = eventLoop.makePromise(of: RESPValue.self)
            handler.enqueue(.init(arguments: .strings(["SELECT", String(configuration.db)]), kind: .command(promise)))
            steps.append(promise.futureResult.flatMapErrorThrowing { error in
                throw (error as? RedisCommandError).map { RedisConnectionError.selectFailed($0.message) } ?? error
            }.map { _ in })
        }
        // The first failure in order wins (a failed AUTH also fails SELECT with NOAUTH).
        return EventLoopFuture.whenAllComplete(steps, on: eventLoop).flatMapThrowing { results in
            for case .failure(let error) in results { throw error }
        }
    }
}
