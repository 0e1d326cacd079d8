import ChatDomain

/// A room's members as this node's clients were told them: the `JoinRoom` list of the
/// first local member, then every `UserJoined`/`UserLeft` delivered since, in the room's
/// order. When the node missed events it cannot catch up on, the view is compared with the
/// truth from Redis, and the difference goes to the clients as `UpdateUserList` pushes.
public struct MemberView: Sendable, Equatable {
    public private(set) var members: [(id: SessionID, profile: UserProfile)] = []

    public init(_ members: [(id: SessionID, profile: UserProfile)] = []) {
        self.members = members
    }

    public static func == (a: MemberView, b: MemberView) -> Bool {
        a.members.map(\.id) == b.members.map(\.id) && a.members.map(\.profile) == b.members.map(\.profile)
    }

    public func contains(_ id: SessionID) -> Bool { members.contains { $0.id == id } }

    public mutating func joined(_ id: SessionID, _ profile: UserProfile) {
        guard !contains(id) else { return }
        members.append((id, profile))
    }

    public mutating func left(_ id: SessionID) {
        members.removeAll { $0.id == id }
    }

    /// What tells clients holding this view the truth: leaves first, then joins in the
    /// truth's order. Members for which `keep` is true are left alone (local sessions the
    /// node knows are in the room, whose departure was its own reap).
    public func corrections(to truth: [(id: SessionID, profile: UserProfile)],
                            keep: (SessionID) -> Bool = { _ in false }) -> [RoomEvent] {
        let truthIDs = Set(truth.map(\.id))
        var events: [RoomEvent] = []
        for member in members where !truthIDs.contains(member.id) && !keep(member.id) {
            events.append(.left(member.id, member.profile))
        }
        for member in truth where !contains(member.id) {
            events.append(.joined(member.id, member.profile))
        }
        return events
    }
}
