import ChatDomain
import ClusterBus
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Wire

/// Accepts client connections and gives each its pipeline: (PROXY header) → partial-frame
/// deadline → zero-byte framing → idle timer → session. It starts once the cluster bus has
/// (`ClusterBusService`). When a drain begins (`NodeLifecycle`, SIGTERM) or at graceful
/// shutdown it stops accepting; at graceful shutdown it closes every session and waits for
/// their cluster calls; the bus service then takes the node out of the cluster.
struct ChatServer: Service {
    let context: NodeContext
    let group: any EventLoopGroup
    /// The cluster bus has started (`ClusterBusService`): no client before that.
    let ready: BusReadiness
    let lifecycle: NodeLifecycle
    let onListening: (@Sendable (Int) -> Void)?

    func run() async throws {
        let configuration = context.configuration
        let node = context
        // The bus service stops the group if it cannot start; nothing to listen for then.
        guard await ready.wait() else { return }
        let bootstrap = ClientListener.bootstrap(group: group, configuration: configuration) { channel in
            channel.eventLoop.makeCompletedFuture {
                let registry = node.fanout.registry(for: channel.eventLoop)
                let session = SessionHandler(id: node.makeSessionID(), node: node, registry: registry)
                let handlers = channel.pipeline.syncOperations
                if configuration.proxyProtocol {
                    try handlers.addHandler(ProxyProtocolDecoder(logger: node.logger))
                }
                try handlers.addHandler(PartialFrameDeadline(timeout: configuration.partialFrameTimeout))
                try handlers.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: configuration.maxFrameBytes)))
                try handlers.addHandler(IdleStateHandler(readTimeout: configuration.idleTimeout))
                try handlers.addHandler(session)
            }
        }
        let server: any Channel
        do {
            server = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        } catch {
            node.logger.critical("cannot listen on \(configuration.host):\(configuration.port): \(error). Is another process using the port? Choose another with --port.")
            throw error
        }
        let boundPort = server.localAddress?.port ?? configuration.port
        lifecycle.listening()
        node.logger.info("Chorus node \(node.bus.nodeID) accepting connections on \(configuration.host):\(boundPort)")
        onListening?(boundPort)
        let coalescing = group.next().scheduleRepeatedTask(initialDelay: Fanout.coalescingInterval,
                                                           delay: Fanout.coalescingInterval) { _ in
            node.fanout.flushChanges()
        }

        let metrics = group.next().scheduleRepeatedTask(initialDelay: .seconds(60), delay: .seconds(60)) { _ in
            node.logger.info("connections=\(node.limiter.connections) \(node.metrics.summary)")
        }

        // A drain stops new clients only; existing sessions go on until graceful shutdown.
        await ClientListener.untilDrainOrShutdown(lifecycle)
        try? await server.close()
        if lifecycle.phase == .draining {
            node.logger.notice("draining: no longer accepting connections; \(node.limiter.connections) sessions go on")
        }
        try? await gracefulShutdown()

        metrics.cancel()

        node.logger.info("shutting down: closing \(node.limiter.connections) sessions")
        coalescing.cancel()
        await closeAllSessions()
        // Sessions' cluster calls and logouts finish before the bus service, next in the
        // shutdown order, takes the node out of the cluster.
        await node.tasks.waitForAll()
        node.logger.info("stopped; \(node.metrics.summary)")
    }

    private func closeAllSessions() async {
        let futures = context.fanout.registries.map { registry in
            registry.eventLoop.submit {
                for session in registry.allSessions { session.closeForShutdown() }
            }
        }
        for future in futures { try? await future.get() }
    }
}
