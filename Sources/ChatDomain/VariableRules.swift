/// The rules of room and user variables (PROTOCOL.md section 5): what a name and its data may
/// be, how many a room or a user holds, and who may change a locked room variable.
public enum VariableRules {
    /// A variable name as given, or why it is refused: `Variable name is required` (empty or
    /// white space only), `Variable name is invalid` (longer than `maxLength` characters, or
    /// characters a user name may not have: anything but letters, digits, `_`, `-`, `.` and
    /// inner spaces; invisible code points). Names are compared exactly (case-sensitive).
    public static func validateName(_ name: String, maxLength: Int) -> Result<String, Reason> {
        if name.allSatisfy(\.isWhitespace) { return .failure(.variableNameRequired) }
        // A character is at least one UTF-8 byte: a long byte count is judged without counting.
        if name.utf8.count > maxLength * 4 * 4 || name.count > maxLength || name.unicodeScalars.count > maxLength * 4 {
            return .failure(.variableNameInvalid)
        }
        guard name.first != " ", name.last != " ", name.allSatisfy(UserName.isAllowed),
              !name.unicodeScalars.contains(where: UserName.isInvisible) else { return .failure(.variableNameInvalid) }
        return .success(name)
    }

    /// Whether `data` is over `maxLength` characters (`Variable is too large`).
    public static func isTooLarge(_ data: String, maxLength: Int) -> Bool {
        data.utf8.count > maxLength && data.count > maxLength
    }

    /// Name, then data: the first refusal of a variable, or nil when it may be stored.
    public static func check(_ variable: Variable, limits: ChatLimits) -> Reason? {
        if case .failure(let reason) = validateName(variable.name, maxLength: limits.maxVariableNameLength) { return reason }
        return isTooLarge(variable.data, maxLength: limits.maxVariableDataLength) ? .variableTooLarge : nil
    }

    /// Who may update or delete a room variable: anyone while it is unlocked; its creator or a
    /// moderator while it is locked (others get `Variable is locked`).
    public static func mayChange(_ variable: RoomVariable, by session: SessionID, moderator: Bool) -> Bool {
        !variable.locked || moderator || variable.creator == session
    }

    /// Whether an update by `session` may set the variable's lock: its creator and moderators.
    public static func mayLock(_ variable: RoomVariable, by session: SessionID, moderator: Bool) -> Bool {
        moderator || variable.creator == session
    }
}

/// A room variable as the cluster keeps it: its creator (the session that created it, for
/// locks and for deleting a non-persistent variable when the creator leaves) and its flags.
public struct RoomVariable: Hashable, Sendable {
    public var name: String
    public var data: String
    public var persistent: Bool
    public var locked: Bool
    public var creator: SessionID

    public init(name: String, data: String, persistent: Bool, locked: Bool, creator: SessionID) {
        self.name = name
        self.data = data
        self.persistent = persistent
        self.locked = locked
        self.creator = creator
    }
}

/// What happened to a room variable, as every member is told (`UpdateRoomVariable`).
public struct RoomVariableChange: Hashable, Sendable {
    public enum Kind: String, Sendable {
        case create = "Create"
        case update = "Update"
        case delete = "Delete"
    }

    public var kind: Kind
    public var name: String
    /// Empty for `delete`.
    public var data: String
    public var persistent: Bool
    public var locked: Bool
    /// Who created the variable (for `create` and `update`; the cluster keeps it so that a
    /// room can be restored with its variables' owners after Redis lost its state).
    public var creator: SessionID?

    public init(kind: Kind, name: String, data: String, persistent: Bool, locked: Bool, creator: SessionID? = nil) {
        self.kind = kind
        self.creator = creator
        self.name = name
        self.data = data
        self.persistent = persistent
        self.locked = locked
    }
}
