import ChatDomain
import ClusterBus
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Wires one node together: the event loops, the cluster bus, the fan-out, the client
/// server, and the optional web and policy servers, run by one `ServiceGroup` that stops everything
/// on SIGINT or SIGTERM (or when the task running it is cancelled).
public struct ChorusNode: Sendable {
    public let configuration: NodeConfiguration
    public let logger: Logger
    /// Called once the client port is bound, with the port (useful with port 0).
    public let onListening: (@Sendable (Int) -> Void)?
    /// Called once the web port is bound, with the port.
    public let onWebListening: (@Sendable (Int) -> Void)?

    public init(configuration: NodeConfiguration, logger: Logger, onListening: (@Sendable (Int) -> Void)? = nil,
                onWebListening: (@Sendable (Int) -> Void)? = nil) {
        self.configuration = configuration
        self.logger = logger
        self.onListening = onListening
        self.onWebListening = onWebListening
    }

    public func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        let nodeID = NodeID.fresh(name: configuration.nodeName)
        var logger = logger
        logger[metadataKey: "node"] = "\(nodeID)"
        let bus = try makeBus(nodeID: nodeID, group: group, logger: logger)
        let registries = group.makeIterator().map { LoopRegistry(eventLoop: $0) }
        let tasks = TaskTracker()
        let fanout = Fanout(registries: registries, bus: bus, tasks: tasks)
        let context = NodeContext(configuration: configuration, bus: bus, fanout: fanout, tasks: tasks, logger: logger)
        let ready = BusReadiness()

        // Graceful shutdown goes in reverse order: the listeners stop and close their
        // sessions first, then the bus takes the node out of the cluster.
        var services: [any Service] = [
            ClusterBusService(bus: bus, sink: fanout, ready: ready),
            ChatServer(context: context, group: group, ready: ready, onListening: onListening),
        ]
        if let httpPort = configuration.httpPort {
            services.append(WebServer(context: context, group: group, port: httpPort, origins: configuration.webSocketOrigins,
                                      ready: ready, onListening: onWebListening))
        }
        if let policyPort = configuration.policyPort {
            services.append(PolicyServer(host: configuration.host, port: policyPort, clientPort: configuration.port,
                                         domain: configuration.policyDomain, group: group, logger: logger))
        }
        let serviceGroup = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        do {
            try await serviceGroup.run()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try? await group.shutdownGracefully()
    }

    private func makeBus(nodeID: NodeID, group: any EventLoopGroup, logger: Logger) throws -> any ClusterBus {
        let permanent = Dictionary(uniqueKeysWithValues: configuration.permanentRooms.map {
            (RoomRef(zone: configuration.defaultZone, name: $0), RoomOptions(permanent: true))
        })
        let rules = ClusterRules(permanentRooms: permanent, maxRooms: configuration.maxRooms,
                                 maxRoomsPerZone: configuration.maxRoomsPerZone, passwordLockout: configuration.passwordLockout)
        guard let url = configuration.redisURL else {
            logger.info("no Redis configured: running alone on the in-process bus")
            return InProcessBus(nodeID: nodeID, rules: rules)
        }
        return try RedisClusterBus(nodeID: nodeID, url: url, prefix: configuration.redisPrefix, rules: rules,
                                   eventLoop: group.next(), logger: logger)
    }
}
