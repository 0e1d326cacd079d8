import ChatDomain

/// What one node keeps of one room it has members in (docs/cluster.md, "Sequenced room
/// streams"): the stream position (`RoomStream`: order, duplicates, gaps), the room's
/// incarnation (a room deleted and created again numbers its events afresh), and the
/// members as this node's clients were told them (`MemberView`), so that when events
/// cannot be caught up on, the clients' user lists can be brought back to the truth.
///
/// Pure: `RedisClusterBus` feeds it the room channel's events and the history's answers,
/// and delivers what it returns.
public struct RoomTracker: Sendable {
    public private(set) var stream = RoomStream<RoomEvent>()
    /// The incarnation the stream's numbers belong to; nil before the first event.
    public private(set) var incarnation: UInt64?
    public private(set) var view = MemberView()
    public private(set) var viewSeeded = false
    /// The room's variables in creation order, as this node's clients were told them (kept
    /// with the view, from the same events): what the node puts back if Redis loses the room.
    public private(set) var variables: [RoomVariable] = []
    /// The view holds the room's members after this event number.
    private var viewSequence: UInt64 = 0
    /// The next history answer's members are not a truth to correct the view with (right
    /// after Redis lost its state, other nodes may not have put their sessions back yet).
    private var membersNotYetTrue = false
    /// Joins and leaves delivered before the view was seeded (the first local `JoinRoom`
    /// answer may come after events that follow it), replayed onto the seed.
    private var unseededLog: [(UInt64, RoomEvent)] = []
    private static let maxUnseededLog = 4096

    /// What to do next: deliver `events`, fetch the history if `fetch` is set, and check
    /// the clients' lists against the truth a little later if `checkListsLater`.
    public struct Step: Sendable {
        public var events: [RoomEvent] = []
        public var fetch: Fetch?
        public var checkListsLater = false
    }

    /// A history request: events from `from` on, of `incarnation` (the one the node knows;
    /// another makes the history answer from the room's new start), and the members just
    /// before them if `members`.
    public struct Fetch: Sendable, Equatable {
        public var from: UInt64
        public var incarnation: UInt64
        public var members: Bool

        public init(from: UInt64, incarnation: UInt64, members: Bool) {
            self.from = from
            self.incarnation = incarnation
            self.members = members
        }
    }

    public init() {}

    /// An event from the room's channel. `suppress` says which events this node's clients
    /// must not see (the leave of a local session the node knows is still in the room: its
    /// own reap, while it was frozen); they still count in the stream.
    public mutating func receive(incarnation: UInt64, sequence: UInt64, _ event: RoomEvent,
                                 suppress: (RoomEvent) -> Bool) -> Step {
        if let current = self.incarnation, current != incarnation, stream.fetching {
            // A fetch is in flight already: its answer tells the new incarnation (and its
            // events from the start); this one waits with the others.
            membersNotYetTrue = true
            _ = stream.receive(sequence, event)
            return Step(checkListsLater: true)
        }
        if let current = self.incarnation, current != incarnation {
            // The room was deleted and made again: catch up on the new one from its start,
            // with its members as they were then.
            // Its members right now may not be final (after Redis lost its state, other nodes
            // put their sessions back one by one): the lists are checked a little later.
            self.incarnation = incarnation
            stream.restart(holding: sequence, event)
            membersNotYetTrue = true
            return Step(fetch: Fetch(from: 1, incarnation: current, members: true), checkListsLater: true)
        }
        self.incarnation = incarnation
        switch stream.receive(sequence, event) {
        case .deliver(let deliveries):
            return Step(events: apply(deliveries, suppress: suppress))
        case .fetch(let from):
            return Step(fetch: Fetch(from: from, incarnation: incarnation, members: false))
        }
    }

    /// The common case, without allocating: a public message that is the room's next event.
    /// True when it was taken (deliver it); false: call `receive`.
    public mutating func receiveInOrder(incarnation: UInt64, sequence: UInt64, _ event: RoomEvent) -> Bool {
        guard case .message = event, incarnation == self.incarnation else { return false }
        return stream.takeIfNext(sequence)
    }

    /// The first local member joined: the `JoinRoom` answer's members, as of its own join
    /// event `sequence`. Ignored once seeded (other local members were there before).
    public mutating func seed(incarnation: UInt64, sequence: UInt64, members: [(id: SessionID, profile: UserProfile)],
                              variables: [RoomVariable] = []) {
        guard !viewSeeded else { return }
        view = MemberView(members)
        self.variables = variables
        viewSeeded = true
        viewSequence = sequence
        for (number, event) in unseededLog where number > sequence && self.incarnation == incarnation {
            applyToView(number, event)
        }
        unseededLog = []
    }

    /// Catches up on purpose: after reconnecting (events may have been missed with nothing
    /// newer to show the gap), or to check the clients' lists against the truth (`members`).
    /// `trusted` false: members the history sends are not final yet (Redis just lost its
    /// state), so they correct nothing. Nil when a fetch is in flight already.
    public mutating func beginCatchUp(members: Bool, trusted: Bool = true) -> Fetch? {
        guard !stream.fetching else { return nil }
        membersNotYetTrue = !trusted
        guard let incarnation, let from = stream.beginCatchUp() else {
            guard members else { return nil }
            // Nothing seen yet: ask from the start of whatever the room is now.
            stream.restart(holding: 0, .lost(0))
            return Fetch(from: 1, incarnation: 0, members: true)
        }
        return Fetch(from: from, incarnation: incarnation, members: members)
    }

    /// The history answered. Reports what it no longer held, corrects the clients' user
    /// lists when it sent the members (`keep`: local sessions the node knows are in the
    /// room, whose leave was its own reap), then delivers the events in order.
    public mutating func caughtUp(_ answer: HistoryAnswer, keep: (SessionID) -> Bool,
                                  suppress: (RoomEvent) -> Bool) -> Step {
        guard stream.fetching else { return Step() } // an answer nobody waits for any more
        var events: [RoomEvent] = []
        if answer.lost > 0 { events.append(.lost(answer.lost)) }
        if let truth = answer.membersBefore, membersNotYetTrue {
            membersNotYetTrue = false
            if !viewSeeded {
                view = MemberView(truth)
                viewSeeded = true
                unseededLog = []
            }
            viewSequence = answer.resumeAfter
        } else if let truth = answer.membersBefore {
            if viewSeeded {
                events += view.corrections(to: truth, keep: keep)
                var corrected = MemberView(truth)
                for member in view.members where keep(member.id) && !corrected.contains(member.id) {
                    corrected.joined(member.id, member.profile)
                }
                view = corrected
            } else {
                view = MemberView(truth)
                viewSeeded = true
                unseededLog = []
            }
            viewSequence = answer.resumeAfter
        }
        incarnation = answer.incarnation
        let (deliveries, again) = stream.caughtUp(resumeAfter: answer.resumeAfter,
                                                  events: answer.events.map { ($0.sequence, $0.event) })
        var step = Step(events: events + apply(deliveries, suppress: suppress))
        if let again { step.fetch = Fetch(from: again, incarnation: answer.incarnation, members: false) }
        return step
    }

    /// The fetch failed: the gap shows again with the next event or reconnection.
    public mutating func fetchFailed() {
        stream.fetchFailed()
        membersNotYetTrue = false
    }

    private mutating func apply(_ deliveries: [RoomStream<RoomEvent>.Delivery], suppress: (RoomEvent) -> Bool) -> [RoomEvent] {
        var events: [RoomEvent] = []
        events.reserveCapacity(deliveries.count)
        for delivery in deliveries {
            guard case .event(let sequence, let event) = delivery else { continue }
            if case .lost = event { continue } // a placeholder, never delivered
            if suppress(event) { continue }
            applyToView(sequence, event)
            events.append(event)
        }
        return events
    }

    private mutating func applyToView(_ sequence: UInt64, _ event: RoomEvent) {
        switch event {
        case .joined, .left, .variable:
            guard viewSeeded else {
                if unseededLog.count < Self.maxUnseededLog { unseededLog.append((sequence, event)) }
                return
            }
            guard sequence > viewSequence else { return }
            viewSequence = sequence
            if case .joined(let id, let profile) = event { view.joined(id, profile) }
            if case .left(let id, _) = event { view.left(id) }
            if case .variable(let change) = event { applyVariable(change) }
        case .message, .lost:
            break
        }
    }

    private mutating func applyVariable(_ change: RoomVariableChange) {
        let index = variables.firstIndex { $0.name == change.name }
        switch (change.kind, index) {
        case (.delete, let index?):
            variables.remove(at: index)
        case (.delete, nil):
            break
        case (_, let index?):
            variables[index].data = change.data
            variables[index].persistent = change.persistent
            variables[index].locked = change.locked
        case (_, nil):
            guard let creator = change.creator else { return }
            variables.append(RoomVariable(name: change.name, data: change.data, persistent: change.persistent,
                                          locked: change.locked, creator: creator))
        }
    }
}
