import ChatDomain
import ClusterBus
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Wires one node together: the event loops, the cluster bus, the fan-out, the client
/// server, the optional web and policy servers and operator port, run by one `ServiceGroup`.
/// SIGTERM drains the node, then stops it; SIGINT stops it at once (`StopSignals`); so does
/// cancelling the task running it.
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
        // Metrics are exported only through the operator port; without it they go nowhere.
        // The registry must exist (swift-metrics bootstrapped) before any metric is made.
        let registry = configuration.adminPort != nil ? PrometheusExport.registry : nil
        let metrics = NodeMetrics()
        let bus = try makeBus(nodeID: nodeID, group: group, metrics: metrics, logger: logger)
        let registries = group.makeIterator().map { LoopRegistry(eventLoop: $0, metrics: metrics) }
        let tasks = TaskTracker()
        let fanout = Fanout(registries: registries, bus: bus, tasks: tasks)
        let context = NodeContext(configuration: configuration, bus: bus, fanout: fanout, tasks: tasks,
                                  metrics: metrics, logger: logger)
        let ready = BusReadiness()
        let lifecycle = NodeLifecycle()

        // Graceful shutdown goes in reverse order: the listeners stop and close their
        // sessions first, then the bus takes the node out of the cluster; the operator port
        // answers (503) until the end.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let adminPort = configuration.adminPort, let registry {
            let readiness = Readiness(lifecycle: lifecycle, bus: bus, limiter: context.limiter,
                                      maxConnections: configuration.maxConnections)
            services.append(.init(service: AdminServer(
                host: configuration.host, port: adminPort, group: group,
                endpoints: AdminEndpoints(readiness: readiness, metrics: metrics, registry: registry), logger: logger)))
        }
        services.append(.init(service: ClusterBusService(bus: bus, sink: fanout, ready: ready)))
        services.append(.init(service: ChatServer(context: context, group: group, ready: ready, lifecycle: lifecycle,
                                                  onListening: onListening)))
        if let httpPort = configuration.httpPort {
            services.append(.init(service: WebServer(context: context, group: group, port: httpPort,
                                                     origins: configuration.webSocketOrigins, ready: ready,
                                                     lifecycle: lifecycle, onListening: onWebListening)))
        }
        if let policyPort = configuration.policyPort {
            services.append(.init(service: PolicyServer(host: configuration.host, port: policyPort, clientPort: configuration.port,
                                                        domain: configuration.policyDomain, group: group, logger: logger)))
        }
        let limiter = context.limiter
        services.append(.init(
            service: StopSignals(signals: await StopSignals.trap(), lifecycle: lifecycle, drainTime: configuration.drainTime,
                                 connections: { limiter.connections }, logger: logger),
            successTerminationBehavior: .gracefullyShutdownGroup))
        let serviceGroup = ServiceGroup(configuration: .init(services: services, logger: logger))
        do {
            try await serviceGroup.run()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try? await group.shutdownGracefully()
    }

    private func makeBus(nodeID: NodeID, group: any EventLoopGroup, metrics: NodeMetrics, logger: Logger) throws -> any ClusterBus {
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
                                   eventLoop: group.next(), logger: logger, observer: metrics)
    }
}
