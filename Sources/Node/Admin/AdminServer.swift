import ClusterBus
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The operator HTTP port (`--admin-port`; PROTOCOL.md section 9): `/health`, `/ready`,
/// `/metrics`, for the load balancer and monitoring only. The first service of the node's
/// group, so it answers from start-up (`/ready` 503 until the node takes clients) to the
/// end of the stop (503 throughout). While it runs it refreshes the rooms gauge from the bus.
struct AdminServer: Service {
    let host: String
    let port: Int
    let group: any EventLoopGroup
    let endpoints: AdminEndpoints
    let logger: Logger

    /// Connections beyond this are closed at once: monitoring needs a few.
    static let maxConnections = 64
    static let idleTimeout: TimeAmount = .seconds(30)
    static let roomsRefreshInterval: Duration = .seconds(2)

    func run() async throws {
        let endpoints = endpoints
        let gate = ConnectionGate()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard gate.enter() else {
                        channel.close(promise: nil)
                        return
                    }
                    channel.closeFuture.whenComplete { _ in gate.leave() }
                    let handlers = channel.pipeline.syncOperations
                    try handlers.addHandler(IdleStateHandler(readTimeout: Self.idleTimeout))
                    try handlers.configureHTTPServerPipeline(withErrorHandling: true)
                    try handlers.addHandler(AdminHTTPHandler(endpoints: endpoints))
                }
            }
        let server: any Channel
        do {
            server = try await bootstrap.bind(host: host, port: port).get()
        } catch {
            logger.critical("cannot listen on the admin port \(host):\(port): \(error). Is another process using it? Choose another with --admin-port.")
            throw error
        }
        let bound = server.localAddress?.port ?? port
        logger.info("operator endpoints on http://\(host):\(bound) (/health, /ready, /metrics)")
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                while !Task.isCancelled {
                    if endpoints.readiness.bus.isAvailable, let rooms = try? await endpoints.readiness.bus.roomCount() {
                        endpoints.metrics.refresh(rooms: rooms)
                    }
                    try? await Task.sleep(for: Self.roomsRefreshInterval)
                }
            }
            tasks.addTask { try? await gracefulShutdown() }
            await tasks.next()
            tasks.cancelAll()
        }
        try? await server.close()
    }
}

/// Counts the admin port's open connections against `AdminServer.maxConnections`.
private final class ConnectionGate: Sendable {
    private let open = Atomic<Int>(0)

    func enter() -> Bool {
        if open.add(1, ordering: .relaxed).newValue > AdminServer.maxConnections {
            open.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func leave() { open.subtract(1, ordering: .relaxed) }
}
