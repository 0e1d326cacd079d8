/// What a bus tells about itself for the node's metrics: round trips of its cluster
/// operations, reconnections, resynchronisations. Called from the bus's tasks and event
/// loop; implementations must be cheap (a counter, a histogram) and never call back into
/// the bus. Every method has a do-nothing default.
public protocol ClusterBusObserver: AnyObject, Sendable {
    /// One operation reached the cluster state store and came back (`publish`: one script
    /// call, carrying the public messages of one room gathered in one turn of the bus loop).
    func clusterRoundTrip(_ operation: ClusterOperation, nanoseconds: Int64)
    /// The connection to the cluster state store was lost and is back.
    func clusterReconnected()
    /// The cluster state store had lost its state: the node put its sessions back and has
    /// its clients' room lists refreshed.
    func clusterResynced()
}

extension ClusterBusObserver {
    public func clusterRoundTrip(_ operation: ClusterOperation, nanoseconds: Int64) {}
    public func clusterReconnected() {}
    public func clusterResynced() {}
}

/// The cluster operations whose round trips are measured.
public enum ClusterOperation: String, Sendable, CaseIterable {
    case login, join, leave, publish
}
