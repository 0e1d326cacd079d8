import ChatDomain

/// What a room's history in Redis answers a node catching up (the `fetch` script).
public struct HistoryAnswer: Sendable {
    /// The room's incarnation now (a room deleted and made again numbers afresh).
    public var incarnation: UInt64
    /// The stream goes on after this number: `events` start right after it.
    public var resumeAfter: UInt64
    /// Events of the same incarnation the history no longer held (skipped).
    public var lost: Int
    public var events: [(sequence: UInt64, event: RoomEvent)]
    /// The members just before the first event (right after `resumeAfter`), when asked
    /// for, when events were lost, or when the room is another incarnation.
    public var membersBefore: [(id: SessionID, profile: UserProfile)]?

    public init(incarnation: UInt64, resumeAfter: UInt64, lost: Int, events: [(sequence: UInt64, event: RoomEvent)],
                membersBefore: [(id: SessionID, profile: UserProfile)]?) {
        self.incarnation = incarnation
        self.resumeAfter = resumeAfter
        self.lost = lost
        self.events = events
        self.membersBefore = membersBefore
    }
}
