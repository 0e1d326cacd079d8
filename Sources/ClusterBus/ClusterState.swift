import ChatDomain
import NIOCore

/// The whole cluster state held in one process: what ``InProcessBus`` serializes behind a
/// lock. Each mutating method applies one operation atomically and returns the events it
/// causes, in order. Pure logic; the Redis bus keeps the same state in Redis with the same
/// rules (see docs/cluster.md).
struct ClusterState {
    struct Session {
        var name: UserName
        var profile: UserProfile
        var zone: String
        var room: RoomRef?
        /// The client's address, for address bans.
        var address: String
    }

    struct Room {
        var options: RoomOptions
        var members: [SessionID]
        /// The session that created the room (nil for permanent rooms): it may change the
        /// room's details while the room is updatable.
        var creator: SessionID?
    }

    struct Zone {
        var users = 0
        /// Room names in creation order.
        var rooms: [String] = []
    }

    let rules: ClusterRules
    private(set) var names: [String: SessionID] = [:]
    private(set) var sessions: [SessionID: Session] = [:]
    private(set) var rooms: [RoomRef: Room] = [:]
    private(set) var zones: [String: Zone] = [:]
    /// Wrong account passwords and lockouts, by name key.
    var passwords: PasswordLockoutTable
    /// Name and address bans (PROTOCOL.md section 5).
    var bans = BanTable()

    init(rules: ClusterRules) {
        self.rules = rules
        self.passwords = PasswordLockoutTable(policy: rules.passwordLockout)
        for (ref, options) in rules.permanentRooms.sorted(by: { $0.key.name < $1.key.name }) {
            var permanent = options
            permanent.permanent = true
            rooms[ref] = Room(options: permanent, members: [])
            zones[ref.zone, default: Zone()].rooms.append(ref.name)
        }
    }

    var loggedInCount: Int { sessions.count }

    func listing(of zone: String) -> ZoneListing {
        let record = zones[zone] ?? Zone()
        let listed = record.rooms.compactMap { name -> RoomSummary? in
            let ref = RoomRef(zone: zone, name: name)
            guard let room = rooms[ref], !room.options.hidden else { return nil }
            return RoomSummary(name: name, users: room.members.count, options: room.options)
        }
        return ZoneListing(zone: zone, users: record.users, rooms: listed)
    }

    mutating func login(_ request: LoginRequest, at now: ContinuousClock.Instant) -> LoginOutcome {
        if bans.isNameBanned(request.name.key, at: now) { return .nameBanned }
        guard names[request.name.key] == nil, sessions[request.session] == nil else { return .nameInUse }
        names[request.name.key] = request.session
        sessions[request.session] = Session(name: request.name, profile: request.profile, zone: request.zone, room: nil,
                                            address: request.address)
        zones[request.zone, default: Zone()].users += 1
        return .accepted(listing(of: request.zone))
    }

    mutating func join(_ request: JoinRequest, events: inout [ClusterEvent]) -> JoinOutcome {
        guard var session = sessions[request.session] else { return .failed(.notLoggedIn) }
        let target = request.room
        // CreateRoom of the room the user is in: it exists (`Already in room` is JoinRoom's).
        if request.create == nil, session.room == target { return .failed(.alreadyInRoom) }
        if let create = request.create {
            if rooms[target] != nil { return .failed(.roomExists) }
            if let max = rules.maxRooms, rooms.count >= max { return .failed(.tooManyRooms) }
            if let max = rules.maxRoomsPerZone, (zones[target.zone]?.rooms.count ?? 0) >= max { return .failed(.tooManyRooms) }
            var options = create
            options.permanent = false
            rooms[target] = Room(options: options, members: [], creator: request.session)
            zones[target.zone, default: Zone()].rooms.append(target.name)
        } else {
            guard let room = rooms[target] else { return .failed(.roomDoesNotExist) }
            if let password = room.options.password, password != request.password { return .failed(.incorrectPassword) }
            if let capacity = room.options.capacity, room.members.count >= capacity { return .failed(.roomFull) }
        }

        let left = session.room
        let zoneChanged = session.zone != target.zone
        if zoneChanged {
            zones[session.zone]?.users -= 1
            zones[target.zone, default: Zone()].users += 1
        }
        if let left { removeMember(request.session, profile: session.profile, from: left, events: &events) }
        if zoneChanged {
            dropZoneIfEmpty(session.zone)
            session.zone = target.zone
        }
        session.room = target
        sessions[request.session] = session

        rooms[target]!.members.append(request.session)
        let room = rooms[target]!
        let summary = RoomSummary(name: target.name, users: room.members.count, options: room.options)
        if !room.options.hidden {
            let kind: ZoneChange.Kind = request.create != nil ? .created : .changed
            events.append(.zone(ZoneChange(kind: kind, zone: target.zone, zoneUsers: zones[target.zone]!.users, room: summary)))
        }
        events.append(.room(target, .joined(request.session, session.profile)))
        let members = room.members.compactMap { sessions[$0]?.profile }
        return .joined(JoinedRoom(room: target, summary: summary, members: members, created: request.create != nil,
                                  left: left, newZone: zoneChanged ? listing(of: target.zone) : nil,
                                  zoneUsers: zones[target.zone]!.users))
    }

    mutating func leave(_ id: SessionID, events: inout [ClusterEvent]) -> Bool {
        guard let session = sessions[id], let room = session.room else { return false }
        removeMember(id, profile: session.profile, from: room, events: &events)
        sessions[id]?.room = nil
        return true
    }

    mutating func logout(_ id: SessionID, events: inout [ClusterEvent]) {
        guard let session = sessions[id] else { return }
        zones[session.zone]?.users -= 1
        if let room = session.room { removeMember(id, profile: session.profile, from: room, events: &events) }
        sessions[id] = nil
        if names[session.name.key] == id { names[session.name.key] = nil }
        dropZoneIfEmpty(session.zone)
    }

    func session(forNameKey key: String) -> SessionID? { names[key] }

    /// A moderator's command (see `ClusterBus.moderate`): the ban is stored first, then the
    /// online target gets its notice as a `kick` event.
    mutating func moderate(_ request: ModerationRequest, at now: ContinuousClock.Instant,
                           events: inout [ClusterEvent]) -> ModerationOutcome {
        let target = names[request.targetKey]
        switch request.action {
        case .unban:
            return bans.unban(request.targetKey, at: now) ? .done : .userNotFound
        case .kick:
            guard let target else { return .userNotFound }
            events.append(.kick(target, request.notice))
        case .ban(let milliseconds, let withAddress):
            let address = withAddress ? target.flatMap { sessions[$0]?.address }.flatMap(Self.bannableAddress) : nil
            bans.ban(request.targetKey, address: address, for: milliseconds.map { .milliseconds($0) }, at: now)
            if let target { events.append(.kick(target, request.notice)) }
        }
        return .done
    }

    /// ChangeRoomDetails (see `ClusterBus.changeRoomDetails`).
    mutating func changeRoomDetails(_ request: RoomDetailsRequest, events: inout [ClusterEvent]) -> RoomDetailsOutcome {
        guard let ref = sessions[request.session]?.room, var room = rooms[ref] else { return .failed(.notInRoom) }
        guard RoomDetailChange.mayChange(isCreator: room.creator == request.session, isModerator: request.moderator,
                                         updatable: room.options.updatable) else { return .failed(.notAllowed) }
        let before = room.options
        room.options = request.change.applied(to: before)
        room.options.permanent = before.permanent
        rooms[ref] = room
        let summary = RoomSummary(name: ref.name, users: room.members.count, options: room.options)
        if let kind = RoomDetailChange.announcement(wasHidden: before.hidden, isHidden: room.options.hidden) {
            events.append(.zone(ZoneChange(kind: kind, zone: ref.zone, zoneUsers: zones[ref.zone]?.users ?? 0, room: summary)))
        }
        return .changed(summary)
    }

    /// A session's address as it can be banned: nil when the node did not know it.
    static func bannableAddress(_ address: String) -> String? {
        address.isEmpty || address == "unknown" ? nil : address
    }

    /// The room a session is in, if any.
    func room(ofSession id: SessionID) -> RoomRef? { sessions[id]?.room }

    /// Every session of the cluster (for a single-process cluster: of its one node).
    var sessionIDs: [SessionID] { Array(sessions.keys) }

    func room(_ ref: RoomRef) -> Room? { rooms[ref] }

    private mutating func removeMember(_ id: SessionID, profile: UserProfile, from ref: RoomRef, events: inout [ClusterEvent]) {
        guard var room = rooms[ref], let index = room.members.firstIndex(of: id) else { return }
        room.members.remove(at: index)
        events.append(.room(ref, .left(id, profile)))
        let users = zones[ref.zone]?.users ?? 0
        if room.members.isEmpty && !room.options.permanent {
            rooms[ref] = nil
            zones[ref.zone]?.rooms.removeAll { $0 == ref.name }
            if !room.options.hidden {
                events.append(.zone(ZoneChange(kind: .deleted, zone: ref.zone, zoneUsers: users,
                                               room: RoomSummary(name: ref.name, users: 0, options: room.options))))
            }
            dropZoneIfEmpty(ref.zone)
        } else {
            rooms[ref] = room
            if !room.options.hidden {
                events.append(.zone(ZoneChange(kind: .changed, zone: ref.zone, zoneUsers: users,
                                               room: RoomSummary(name: ref.name, users: room.members.count, options: room.options))))
            }
        }
    }

    /// Zones exist while they hold rooms or users.
    private mutating func dropZoneIfEmpty(_ zone: String) {
        if let record = zones[zone], record.users <= 0, record.rooms.isEmpty { zones[zone] = nil }
    }
}
