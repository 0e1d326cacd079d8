import ChatDomain
import NIOCore
import Synchronization

/// The cluster of one: all state in this process, behind one lock. Used when no Redis is
/// configured, so a single node runs with nothing else installed.
///
/// Events are handed to the sink while the lock is held, so the sink sees them in exactly
/// the order of the state changes. The sink must not call back into the bus synchronously
/// (the node's sink only hops to its event loops).
public final class InProcessBus: ClusterBus {
    public let nodeID: NodeID
    private let state: Mutex<(cluster: ClusterState, sink: (any ClusterEventSink)?)>
    /// The clock of the password lockout and of bans (injectable for tests).
    private let now: @Sendable () -> ContinuousClock.Instant

    public init(nodeID: NodeID, rules: ClusterRules = ClusterRules(),
                now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.nodeID = nodeID
        self.state = Mutex((ClusterState(rules: rules), nil))
        self.now = now
    }

    public func start(sink: any ClusterEventSink) async throws {
        state.withLock { $0.sink = sink }
    }

    /// Logs out every session (the one node's), then stops delivering events.
    public func shutdown() async {
        state.withLock { locked in
            var events: [ClusterEvent] = []
            for id in locked.cluster.sessionIDs { locked.cluster.logout(id, events: &events) }
            locked.sink = nil
        }
    }

    public var isAvailable: Bool { true }

    public func roomCount() async throws(ClusterError) -> Int {
        state.withLock { $0.cluster.rooms.count }
    }

    public func login(_ request: LoginRequest) async throws(ClusterError) -> LoginOutcome {
        let now = now()
        return state.withLock { $0.cluster.login(request, at: now) }
    }

    public func join(_ request: JoinRequest) async throws(ClusterError) -> JoinOutcome {
        mutate { cluster, events in cluster.join(request, events: &events) }
    }

    public func leave(session: SessionID) async throws(ClusterError) -> Bool {
        mutate { cluster, events in cluster.leave(session, events: &events) }
    }

    public func logout(session: SessionID) async {
        mutate { cluster, events in cluster.logout(session, events: &events) }
    }

    public func publish(to room: RoomRef, from session: SessionID, message: ByteBuffer,
                        completion: @escaping @Sendable (ClusterError?) -> Void) {
        let published = mutate(stamp: PublishStamp.now()) { cluster, events -> Bool in
            guard cluster.room(ofSession: session) == room else { return false }
            events.append(.room(room, .message(message)))
            return true
        }
        completion(published ? nil : .unavailable)
    }

    public func sendPrivate(to nameKeys: [String], message: ByteBuffer) async throws(ClusterError) -> [Int] {
        mutate { cluster, events in
            var missing: [Int] = []
            for (index, key) in nameKeys.enumerated() {
                if let session = cluster.session(forNameKey: key) {
                    events.append(.direct(session, message))
                } else {
                    missing.append(index)
                }
            }
            return missing
        }
    }

    public func zoneListing(_ zone: String) async throws(ClusterError) -> ZoneListing {
        state.withLock { $0.cluster.listing(of: zone) }
    }

    public func isNameTaken(nameKey: String) async throws(ClusterError) -> Bool {
        state.withLock { $0.cluster.session(forNameKey: nameKey) != nil }
    }

    public func loggedInCount() async throws(ClusterError) -> Int {
        state.withLock { $0.cluster.loggedInCount }
    }

    public func isLockedOut(nameKey: String) async throws(ClusterError) -> Bool {
        let now = now()
        return state.withLock { $0.cluster.passwords.isLockedOut(nameKey, at: now) }
    }

    public func recordWrongPassword(nameKey: String) async throws(ClusterError) -> Bool {
        let now = now()
        return state.withLock { $0.cluster.passwords.recordWrongPassword(nameKey, at: now) }
    }

    public func moderate(_ request: ModerationRequest) async throws(ClusterError) -> ModerationOutcome {
        let now = now()
        return mutate { cluster, events in cluster.moderate(request, at: now, events: &events) }
    }

    public func isAddressBanned(_ address: String) async throws(ClusterError) -> Bool {
        let now = now()
        return state.withLock { $0.cluster.bans.isAddressBanned(address, at: now) }
    }

    public func changeRoomDetails(_ request: RoomDetailsRequest) async throws(ClusterError) -> RoomDetailsOutcome {
        mutate { cluster, events in cluster.changeRoomDetails(request, events: &events) }
    }

    /// Applies one operation and delivers the events it caused, under the lock (with the
    /// time of publishing, for a public message).
    private func mutate<T>(stamp: PublishStamp? = nil, _ body: (inout ClusterState, inout [ClusterEvent]) -> T) -> T {
        state.withLock { locked in
            var events: [ClusterEvent] = []
            let result = body(&locked.cluster, &events)
            if !events.isEmpty { locked.sink?.deliver(events, oldestPublish: stamp) }
            return result
        }
    }
}
