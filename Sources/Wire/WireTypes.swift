// Plain values carried by the protocol messages. They mirror the wire, not the domain model:
// the node translates between the two.

/// A name/data pair: a user, room or message variable.
public struct WireVariable: Sendable, Equatable {
    public var name: String
    public var data: String

    public init(name: String, data: String) {
        self.name = name
        self.data = data
    }
}

/// The room a client asks to create (the `<Room>` of a `CreateRoom` request).
public struct RoomSpec: Sendable, Equatable {
    public var name: String
    /// Empty means no password.
    public var password: String
    /// Kept exactly as sent (clients put WDDX there).
    public var description: String
    /// Maximum number of users; -1 for unlimited (also when missing or unparseable).
    public var capacity: Int
    /// The `Hidden` attribute; false when missing.
    public var hidden: Bool
    /// The `Updatable` attribute; true when missing.
    public var updatable: Bool

    public init(
        name: String,
        password: String = "",
        description: String = "",
        capacity: Int = -1,
        hidden: Bool = false,
        updatable: Bool = true
    ) {
        self.name = name
        self.password = password
        self.description = description
        self.capacity = capacity
        self.hidden = hidden
        self.updatable = updatable
    }
}

/// A room as shown to clients in room lists and `JoinRoom` responses. Never carries the password.
public struct WireRoom: Sendable, Equatable {
    public var name: String
    /// Users in the room, cluster-wide.
    public var users: Int
    /// -1 for unlimited.
    public var capacity: Int
    public var passwordProtected: Bool
    public var hidden: Bool
    public var updatable: Bool
    public var description: String

    public init(
        name: String,
        users: Int,
        capacity: Int = -1,
        passwordProtected: Bool = false,
        hidden: Bool = false,
        updatable: Bool = true,
        description: String = ""
    ) {
        self.name = name
        self.users = users
        self.capacity = capacity
        self.passwordProtected = passwordProtected
        self.hidden = hidden
        self.updatable = updatable
        self.description = description
    }
}

/// A user as shown to clients in user lists.
public struct WireUser: Sendable, Equatable {
    public var name: String
    public var moderator: Bool
    public var variables: [WireVariable]

    public init(name: String, moderator: Bool = false, variables: [WireVariable] = []) {
        self.name = name
        self.moderator = moderator
        self.variables = variables
    }
}

/// A `ModeratorCommand` as sent (PROTOCOL.md section 5): `MinorAction` (`Kick`, `Ban`,
/// `Unban`), `UserName`, `Reason`, `Expires` (minutes, `-1` until `Unban`) and, for a ban,
/// `Address` (`true`: ban the target's client address too).
public struct ModeratorCommandSpec: Sendable, Equatable {
    public var minorAction: String
    public var userName: String
    public var reason: String
    public var expires: String
    public var address: Bool

    public init(minorAction: String, userName: String, reason: String = "", expires: String = "", address: Bool = false) {
        self.minorAction = minorAction
        self.userName = userName
        self.reason = reason
        self.expires = expires
        self.address = address
    }
}

/// A `ChangeRoomDetails` as sent (PROTOCOL.md section 5): `MinorAction`
/// (`ChangeDescription`, `ChangeCapacity`, `ChangeVisibility`, `ChangePasswordProtected`,
/// `ChangeUpdatable`) and the elements it reads: `Description`, `Capacity` (`-1`:
/// unlimited), `Hidden`, `IsProtected` with `Password`, `Updatable`. Absent elements are "".
public struct ChangeRoomDetailsSpec: Sendable, Equatable {
    public var minorAction: String
    public var description: String
    public var capacity: String
    public var hidden: String
    public var isProtected: String
    public var password: String
    public var updatable: String

    public init(minorAction: String, description: String = "", capacity: String = "", hidden: String = "",
                isProtected: String = "", password: String = "", updatable: String = "") {
        self.minorAction = minorAction
        self.description = description
        self.capacity = capacity
        self.hidden = hidden
        self.isProtected = isProtected
        self.password = password
        self.updatable = updatable
    }
}
