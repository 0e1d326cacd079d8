import ChatDomain

/// A `ChangeRoomDetails` as the cluster carries it out (see `ClusterBus.changeRoomDetails`):
/// one change to the current room of `session`.
public struct RoomDetailsRequest: Sendable {
    public var session: SessionID
    public var change: RoomDetailChange
    /// The session logged in as a moderator: it may change any room's details.
    public var moderator: Bool

    public init(session: SessionID, change: RoomDetailChange, moderator: Bool) {
        self.session = session
        self.change = change
        self.moderator = moderator
    }
}

public enum RoomDetailsOutcome: Sendable, Equatable {
    /// The room's entry after the change (never its password).
    case changed(RoomSummary)
    /// `Not in a room` (the session is in none) or `Not allowed` (neither the room's
    /// creator, with the room updatable, nor a moderator).
    case failed(Reason)
}
