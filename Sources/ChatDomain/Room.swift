import Foundation

/// A room's identity: its zone and its name (both NFC-normalized; room names are case-sensitive).
public struct RoomRef: Hashable, Sendable, CustomStringConvertible {
    public let zone: String
    public let name: String
    public init(zone: String, name: String) {
        self.zone = zone
        self.name = name
    }
    public var description: String { "\(zone)/\(name)" }
}

/// What a creator chooses for a room. `capacity` nil means unlimited (`-1` on the wire).
public struct RoomOptions: Hashable, Sendable {
    public var password: String?
    public var hidden: Bool
    public var updatable: Bool
    public var capacity: Int?
    public var description: String
    /// Permanent rooms (from configuration) are never deleted when they empty.
    public var permanent: Bool

    public init(password: String? = nil, hidden: Bool = false, updatable: Bool = true,
                capacity: Int? = nil, description: String = "", permanent: Bool = false) {
        self.password = (password?.isEmpty ?? true) ? nil : password
        self.hidden = hidden
        self.updatable = updatable
        self.capacity = capacity.flatMap { $0 < 0 ? nil : $0 }
        self.description = description
        self.permanent = permanent
    }
}

/// A room as listed: never carries the password.
public struct RoomSummary: Hashable, Sendable {
    public var name: String
    public var users: Int
    public var capacity: Int?
    public var passwordProtected: Bool
    public var hidden: Bool
    public var updatable: Bool
    public var description: String

    public init(name: String, users: Int, capacity: Int?, passwordProtected: Bool, hidden: Bool,
                updatable: Bool, description: String) {
        self.name = name
        self.users = users
        self.capacity = capacity
        self.passwordProtected = passwordProtected
        self.hidden = hidden
        self.updatable = updatable
        self.description = description
    }

    public init(name: String, users: Int, options: RoomOptions) {
        self.init(name: name, users: users, capacity: options.capacity,
                  passwordProtected: options.password != nil, hidden: options.hidden,
                  updatable: options.updatable, description: options.description)
    }
}

/// A zone's room list (hidden rooms left out) and its user count, cluster-wide.
public struct ZoneListing: Hashable, Sendable {
    public var zone: String
    public var users: Int
    public var rooms: [RoomSummary]
    public init(zone: String, users: Int, rooms: [RoomSummary]) {
        self.zone = zone
        self.users = users
        self.rooms = rooms
    }
}

/// A change to a zone's room list, pushed as `UpdateRoomList`.
public struct ZoneChange: Hashable, Sendable {
    public enum Kind: String, Sendable { case created = "CreateRoom", deleted = "DeleteRoom", changed = "ChangeRoomDetails" }
    public var kind: Kind
    public var zone: String
    public var zoneUsers: Int
    public var room: RoomSummary
    public init(kind: Kind, zone: String, zoneUsers: Int, room: RoomSummary) {
        self.kind = kind
        self.zone = zone
        self.zoneUsers = zoneUsers
        self.room = room
    }
}

/// Room and zone name rules (PROTOCOL.md section 4, CreateRoom).
public enum RoomRules {
    /// Validates a room name: required, at most `maxLength` characters, no control or format
    /// characters (bidirectional overrides, zero-width spaces and joiners), no leading or
    /// trailing space. Returns the NFC form.
    public static func validateRoomName(_ raw: String, maxLength: Int) -> Result<String, Reason> {
        let name = raw.precomposedStringWithCanonicalMapping
        if name.isEmpty { return .failure(.roomNameRequired) }
        if name.count > maxLength { return .failure(.roomNameTooLong) }
        if hasBadEdgesControlsOrFormats(name) { return .failure(.roomNameInvalid) }
        return .success(name)
    }

    /// Zone names follow the room name rules; nil when the name is not acceptable.
    public static func normalizedZone(_ raw: String, maxLength: Int) -> String? {
        let zone = raw.precomposedStringWithCanonicalMapping
        guard !zone.isEmpty, zone.count <= maxLength, !hasBadEdgesControlsOrFormats(zone) else { return nil }
        return zone
    }

    static func hasBadEdgesControlsOrFormats(_ name: String) -> Bool {
        if let first = name.first, first.isWhitespace { return true }
        if let last = name.last, last.isWhitespace { return true }
        return name.unicodeScalars.contains {
            let category = $0.properties.generalCategory
            return category == .control || category == .format
        }
    }
}
