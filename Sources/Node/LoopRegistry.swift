import ChatDomain
import NIOCore

/// The sessions of one event loop, by session, room and zone. Only ever touched on its
/// loop: the fan-out hops here once per batch of cluster events, writes the same bytes to
/// every local recipient, and flushes each touched channel once at the end of the batch.
final class LoopRegistry: @unchecked Sendable {
    let eventLoop: any EventLoop
    private var sessions: [SessionID: SessionHandler] = [:]
    private var rooms: [RoomRef: [SessionID: SessionHandler]] = [:]
    private var zones: [String: [SessionID: SessionHandler]] = [:]
    /// The rooms each local session is a member of here (normally one; briefly two while
    /// the cluster's order catches up with a move).
    private var memberships: [SessionID: [RoomRef]] = [:]
    /// Sessions written to during the current batch, flushed once at its end.
    private var touched: [SessionHandler] = []
    /// Frames each event once for this loop's WebSocket sessions.
    let webSocketFramer = WebSocketFramer()

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    var sessionCount: Int { sessions.count }

    func add(_ session: SessionHandler) {
        eventLoop.preconditionInEventLoop()
        sessions[session.id] = session
    }

    /// Forgets a session everywhere (its connection closed).
    func remove(_ session: SessionHandler, zone: String?) {
        eventLoop.preconditionInEventLoop()
        sessions[session.id] = nil
        for room in memberships[session.id] ?? [] { removeMember(session.id, from: room) }
        if let zone { leaveZone(session.id, zone: zone) }
    }

    func enterZone(_ session: SessionHandler, zone: String) {
        zones[zone, default: [:]][session.id] = session
    }

    func leaveZone(_ id: SessionID, zone: String) {
        guard var members = zones[zone] else { return }
        members[id] = nil
        zones[zone] = members.isEmpty ? nil : members
    }

    private func removeMember(_ id: SessionID, from room: RoomRef) {
        if var joined = memberships[id] {
            joined.removeAll { $0 == room }
            memberships[id] = joined.isEmpty ? nil : joined
        }
        guard var members = rooms[room] else { return }
        members[id] = nil
        rooms[room] = members.isEmpty ? nil : members
    }

    /// The zones that have users on this loop.
    var zoneNames: [String] { Array(zones.keys) }

    /// Every session on this loop, e.g. to close them at shutdown.
    var allSessions: [SessionHandler] { Array(sessions.values) }

    /// Applies one batch of cluster events, in order.
    func apply(_ batch: [Delivery]) {
        eventLoop.preconditionInEventLoop()
        for delivery in batch {
            switch delivery {
            case .room(let room, let bytes):
                if let members = rooms[room] {
                    for member in members.values { member.receiveRoomEvent(bytes, in: room) }
                }
            case .joined(let room, let id, let bytes):
                if let session = sessions[id] {
                    // Already a member here: the cluster restored a session whose leave this
                    // node never saw, so its members never saw it leave either.
                    if rooms[room]?[id] != nil { continue }
                    rooms[room, default: [:]][id] = session
                    if memberships[id]?.contains(room) != true { memberships[id, default: []].append(room) }
                }
                if let members = rooms[room] {
                    for (memberID, member) in members where memberID != id { member.receiveRoomEvent(bytes, in: room) }
                }
            case .left(let room, let id, let bytes):
                removeMember(id, from: room)
                if let members = rooms[room] {
                    for member in members.values { member.receiveRoomEvent(bytes, in: room) }
                }
            case .zone(let change, let bytes):
                if let members = zones[change.zone] {
                    for member in members.values { member.receiveZoneEvent(bytes, change: change) }
                }
            case .roomList(let zone, let bytes), .zoneFrames(let zone, let bytes):
                if let members = zones[zone] {
                    for member in members.values { member.receiveDirect(bytes) }
                }
            case .direct(let id, let bytes):
                sessions[id]?.receiveDirect(bytes)
            case .evict(let id, let reason):
                sessions[id]?.evict(reason)
            case .kick(let id, let notice):
                sessions[id]?.kick(notice)
            }
        }
        for session in touched { session.flushBatch() }
        touched.removeAll(keepingCapacity: true)
    }

    /// A session wrote during the current batch and wants one flush at its end.
    func markTouched(_ session: SessionHandler) {
        touched.append(session)
    }
}

/// One cluster event, encoded once per node, ready to be written to local sessions.
enum Delivery: Sendable {
    case room(RoomRef, ByteBuffer)
    case joined(RoomRef, SessionID, ByteBuffer)
    case left(RoomRef, SessionID, ByteBuffer)
    case zone(ZoneChange, ByteBuffer)
    /// A fresh `RoomList` for every user of a zone.
    case roomList(String, ByteBuffer)
    /// Coalesced `UpdateRoomList` frames for every user of a zone.
    case zoneFrames(String, ByteBuffer)
    case direct(SessionID, ByteBuffer)
    case evict(SessionID, Reason)
    /// A moderator's `Kicked` or `Banned` notice: sent, then the session closes.
    case kick(SessionID, ByteBuffer)
}
