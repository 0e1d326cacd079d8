import ChatDomain
import ClusterBus
import NIOCore

/// The sessions of one event loop, by session, room and zone. Only ever touched on its
/// loop: the fan-out hops here once per batch of cluster events, writes the same bytes to
/// every local recipient, and flushes each touched channel once at the end of the batch.
final class LoopRegistry: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let metrics: NodeMetrics
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

    init(eventLoop: any EventLoop, metrics: NodeMetrics) {
        self.eventLoop = eventLoop
        self.metrics = metrics
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

    /// Applies one batch of cluster events, in order. What it writes is counted in plain
    /// integers and added to the node's metrics once, at the end; so is the lag of its
    /// public messages (`oldestPublish`: when the oldest was published).
    func apply(_ batch: [Delivery], oldestPublish: PublishStamp? = nil) {
        eventLoop.preconditionInEventLoop()
        var frames = 0
        var publicMessages = 0
        var privateMessages = 0
        var lostNotices = 0
        for delivery in batch {
            switch delivery {
            case .messages(let room, let bytes, let count):
                if let members = rooms[room] {
                    for member in members.values where member.receiveRoomEvent(bytes, in: room) {
                        publicMessages += count
                    }
                }
            case .room(let room, let bytes):
                if let members = rooms[room] {
                    for member in members.values where member.receiveRoomEvent(bytes, in: room) { lostNotices += 1 }
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
                    for (memberID, member) in members where memberID != id && member.receiveRoomEvent(bytes, in: room) {
                        frames += 1
                    }
                }
            case .left(let room, let id, let bytes):
                removeMember(id, from: room)
                if let members = rooms[room] {
                    for member in members.values where member.receiveRoomEvent(bytes, in: room) { frames += 1 }
                }
            case .zone(let change, let bytes):
                if let members = zones[change.zone] {
                    for member in members.values where member.receiveZoneEvent(bytes, change: change) { frames += 1 }
                }
            case .roomList(let zone, let bytes):
                if let members = zones[zone] {
                    for member in members.values where member.receiveDirect(bytes) { frames += 1 }
                }
            case .zoneFrames(let zone, let bytes, let count):
                if let members = zones[zone] {
                    for member in members.values where member.receiveDirect(bytes) { frames += count }
                }
            case .direct(let id, let bytes):
                if sessions[id]?.receiveDirect(bytes) == true { privateMessages += 1 }
            case .evict(let id, let reason):
                sessions[id]?.evict(reason)
            case .kick(let id, let notice):
                sessions[id]?.kick(notice)
            }
        }
        for session in touched { session.flushBatch() }
        touched.removeAll(keepingCapacity: true)
        if lostNotices > 0 { metrics.countErrors(.messagesLost, lostNotices) }
        count(frames: frames + lostNotices, publicMessages: publicMessages, privateMessages: privateMessages,
              oldestPublish: oldestPublish)
    }

    /// Once per batch: what it delivered, and its lag if it delivered public messages.
    private func count(frames: Int, publicMessages: Int, privateMessages: Int, oldestPublish: PublishStamp?) {
        let total = frames + publicMessages + privateMessages
        guard total > 0 else { return }
        metrics.framesOut.increment(by: total)
        if publicMessages > 0 {
            metrics.deliveredPublic.increment(by: publicMessages)
            if let oldestPublish {
                metrics.deliveryLag.recordNanoseconds(oldestPublish.nanoseconds(until: .now()))
            }
        }
        if privateMessages > 0 { metrics.deliveredPrivate.increment(by: privateMessages) }
    }

    /// A session wrote during the current batch and wants one flush at its end.
    func markTouched(_ session: SessionHandler) {
        touched.append(session)
    }
}

/// One cluster event, encoded once per node, ready to be written to local sessions.
enum Delivery: Sendable {
    /// Consecutive public messages of a room (`count` frames in one buffer).
    case messages(RoomRef, ByteBuffer, count: Int)
    /// Another frame for every member of a room (`Error` `Messages lost`).
    case room(RoomRef, ByteBuffer)
    case joined(RoomRef, SessionID, ByteBuffer)
    case left(RoomRef, SessionID, ByteBuffer)
    case zone(ZoneChange, ByteBuffer)
    /// A fresh `RoomList` for every user of a zone.
    case roomList(String, ByteBuffer)
    /// Coalesced `UpdateRoomList` frames (`count` of them) for every user of a zone.
    case zoneFrames(String, ByteBuffer, count: Int)
    case direct(SessionID, ByteBuffer)
    case evict(SessionID, Reason)
    /// A moderator's `Kicked` or `Banned` notice: sent, then the session closes.
    case kick(SessionID, ByteBuffer)
}
