/// One change of `ChangeRoomDetails` (PROTOCOL.md section 5), checked, and the rules of who
/// may make it and how the zone hears of it.
///
/// `Updatable` is the room's "details may change" flag: while it is `true` the user who
/// created the room may change its details; once it is `false` only moderators may (the
/// creator gets `Not allowed`, also for setting it back to `true`). Moderators may change
/// any room's details, permanent rooms included.
public enum RoomDetailChange: Sendable, Hashable {
    /// `ChangeDescription`: the new description, exactly as given.
    case description(String)
    /// `ChangeCapacity`: the new capacity, nil for unlimited (`-1`). Members above it stay;
    /// joins are refused (`Room is full`) until there is room.
    case capacity(Int?)
    /// `ChangeVisibility`: hidden or listed.
    case hidden(Bool)
    /// `ChangePasswordProtected`: the new password, nil for none. Applies to later joins
    /// only; never sent to anyone.
    case password(String?)
    /// `ChangeUpdatable`: whether the creator may go on changing the details.
    case updatable(Bool)

    /// The minor actions of `ChangeRoomDetails`, as `Error` `Detail`s name them.
    public static let minorActions = "ChangeDescription, ChangeCapacity, ChangeVisibility, ChangePasswordProtected or ChangeUpdatable"

    /// The change a request asks for, or nil when `minorAction` (any letter case) is none
    /// of `minorActions`. Booleans are `true` in any letter case, anything else is false; a
    /// capacity that is not a whole number, or is negative, is unlimited (as in CreateRoom);
    /// `IsProtected` `true` with an empty password means no password (as in CreateRoom).
    public static func parse(minorAction: String, description: String, capacity: String, hidden: String,
                             isProtected: String, password: String, updatable: String) -> RoomDetailChange? {
        func flag(_ raw: String) -> Bool { raw.trimmingSpaces.lowercased() == "true" }
        switch minorAction.trimmingSpaces.lowercased() {
        case "changedescription": return .description(description)
        case "changecapacity":
            let value = Int(capacity.trimmingSpaces) ?? -1
            return .capacity(value < 0 ? nil : value)
        case "changevisibility": return .hidden(flag(hidden))
        case "changepasswordprotected": return .password(flag(isProtected) && !password.isEmpty ? password : nil)
        case "changeupdatable": return .updatable(flag(updatable))
        default: return nil
        }
    }

    /// Why the change cannot be made to any room (`Description is too long`), if it cannot.
    public func refusal(limits: ChatLimits) -> Reason? {
        if case .description(let text) = self, text.utf8.count > limits.maxDescriptionLength,
           text.count > limits.maxDescriptionLength {
            return .descriptionTooLong
        }
        return nil
    }

    /// Whether a user may change a room's details: a moderator always; the room's creator
    /// while the room is updatable; nobody else.
    public static func mayChange(isCreator: Bool, isModerator: Bool, updatable: Bool) -> Bool {
        isModerator || (isCreator && updatable)
    }

    /// The room's options after the change.
    public func applied(to options: RoomOptions) -> RoomOptions {
        var changed = options
        switch self {
        case .description(let text): changed.description = text
        case .capacity(let capacity): changed.capacity = capacity.flatMap { $0 < 0 ? nil : $0 }
        case .hidden(let hidden): changed.hidden = hidden
        case .password(let password): changed.password = (password?.isEmpty ?? true) ? nil : password
        case .updatable(let updatable): changed.updatable = updatable
        }
        return changed
    }

    /// How the users of the room's zone hear of a change: a room that stays listed as
    /// `ChangeRoomDetails`, one that becomes hidden as `DeleteRoom`, one that becomes
    /// visible as `CreateRoom`; a room that stays hidden not at all (nil).
    public static func announcement(wasHidden: Bool, isHidden: Bool) -> ZoneChange.Kind? {
        switch (wasHidden, isHidden) {
        case (false, false): .changed
        case (false, true): .deleted
        case (true, false): .created
        case (true, true): nil
        }
    }
}
