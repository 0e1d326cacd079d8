import ClusterBus
import Logging
import ServiceLifecycle

/// The cluster bus as a `Service` of the node's `ServiceGroup`: it connects (and registers
/// the node) when the group starts, tells the client listener it is ready, and on graceful
/// shutdown, after the services registered after it have stopped (the listener closes its
/// sessions first), takes the node out of the cluster and disconnects.
struct ClusterBusService: Service {
    let bus: any ClusterBus
    let sink: any ClusterEventSink
    let ready: BusReadiness

    func run() async throws {
        do {
            try await bus.start(sink: sink)
        } catch {
            ready.failed()
            await bus.shutdown()
            throw error
        }
        ready.started()
        try? await gracefulShutdown()
        await bus.shutdown()
    }
}
