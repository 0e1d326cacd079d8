import ClusterBus

/// Whether the node should get new clients (`/ready`, PROTOCOL.md section 9): its listener
/// is bound, no stop has begun, the cluster state store answers, and it has a free slot.
struct Readiness: Sendable {
    let lifecycle: NodeLifecycle
    let bus: any ClusterBus
    let limiter: ConnectionLimiter
    let maxConnections: Int

    /// Nil when ready; else why not, in a few words for the response body.
    func notReadyReason() -> String? {
        switch lifecycle.phase {
        case .draining: return "draining: the node is stopping and takes no new clients"
        case .stopping: return "stopping"
        case .running: break
        }
        if !lifecycle.acceptsClients { return "starting: the client port is not listening yet" }
        if !bus.isAvailable { return "cluster unavailable: the cluster state store (Redis) cannot be reached" }
        if limiter.connections >= maxConnections { return "full: \(maxConnections) connections (--max-connections)" }
        return nil
    }
}
