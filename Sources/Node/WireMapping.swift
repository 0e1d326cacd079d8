import ChatDomain
import Wire

// Conversions between the domain's types and the wire's. Wire knows nothing of rooms;
// the domain knows nothing of XML; the node translates.

extension WireRoom {
    init(_ room: RoomSummary) {
        self.init(name: room.name, users: room.users, capacity: room.capacity ?? -1,
                  passwordProtected: room.passwordProtected, hidden: room.hidden,
                  updatable: room.updatable, description: room.description)
    }
}

extension WireUser {
    init(_ profile: UserProfile) {
        self.init(name: profile.name, moderator: profile.moderator, variables: profile.variables.map(WireVariable.init))
    }
}

extension WireVariable {
    init(_ variable: Variable) {
        self.init(name: variable.name, data: variable.data)
    }
}

extension WireRoomVariable {
    init(_ variable: RoomVariable) {
        self.init(name: variable.name, data: variable.data, persistent: variable.persistent, locked: variable.locked)
    }

    init(_ change: RoomVariableChange) {
        self.init(name: change.name, data: change.data, persistent: change.persistent, locked: change.locked)
    }
}

extension Variable {
    init(_ variable: WireVariable) {
        self.init(name: variable.name, data: variable.data)
    }
}

extension ServerEvent {
    static func roomList(_ listing: ZoneListing) -> ServerEvent {
        .roomList(zone: listing.zone, zoneUsers: listing.users, rooms: listing.rooms.map(WireRoom.init))
    }

    static func roomsInZone(_ listing: ZoneListing) -> ServerEvent {
        .roomsInZone(zone: listing.zone, zoneUsers: listing.users, rooms: listing.rooms.map(WireRoom.init))
    }

    static func updateRoomList(_ change: ZoneChange) -> ServerEvent {
        .updateRoomList(minorAction: change.kind.rawValue, zoneUsers: change.zoneUsers, room: WireRoom(change.room))
    }

    static func error(_ reason: Reason, action: String, detail: String? = nil) -> ServerEvent {
        .error(reason: reason.rawValue, requestAction: action, detail: detail)
    }
}
