import ChatDomain
import ClusterBus
import NIOCore
import Testing

/// The per-room state a node keeps of a room's sequenced stream (docs/cluster.md,
/// "Sequenced room streams"): order, catch-up, lost events, and the clients' user lists.
struct RoomTrackerTests {
    static let node = NodeID("n1.00000001")
    static let other = NodeID("n2.00000002")
    static func id(_ n: UInt64, _ node: NodeID = other) -> SessionID { SessionID(node: node, number: n) }
    static func profile(_ name: String) -> UserProfile { UserProfile(name: name) }
    static func message(_ text: String) -> RoomEvent { .message(ByteBuffer(string: text)) }
    static func never(_ event: RoomEvent) -> Bool { false }

    static func describe(_ events: [RoomEvent]) -> [String] {
        events.map {
            switch $0 {
            case .message(let bytes): "m \(String(buffer: bytes))"
            case .joined(_, let profile): "joined \(profile.name)"
            case .left(_, let profile): "left \(profile.name)"
            case .variable(let change): "variable \(change.name)"
            case .lost(let count): "lost \(count)"
            }
        }
    }

    @Test func eventsFlowInOrderAndTheViewFollowsJoinsAndLeaves() {
        var tracker = RoomTracker()
        tracker.seed(incarnation: 7, sequence: 1, members: [(Self.id(1), Self.profile("a"))])
        #expect(Self.describe(tracker.receive(incarnation: 7, sequence: 1, .joined(Self.id(1), Self.profile("a")), suppress: Self.never).events) == ["joined a"])
        #expect(Self.describe(tracker.receive(incarnation: 7, sequence: 2, .joined(Self.id(2), Self.profile("b")), suppress: Self.never).events) == ["joined b"])
        #expect(Self.describe(tracker.receive(incarnation: 7, sequence: 3, Self.message("hi"), suppress: Self.never).events) == ["m hi"])
        #expect(Self.describe(tracker.receive(incarnation: 7, sequence: 4, .left(Self.id(1), Self.profile("a")), suppress: Self.never).events) == ["left a"])
        #expect(tracker.view.members.map(\.profile.name) == ["b"])
    }

    @Test func eventsBeforeTheSeedAreReplayedOntoIt() {
        var tracker = RoomTracker()
        // The first local member's join is event 5; event 6 arrived before its JoinRoom answer.
        _ = tracker.receive(incarnation: 7, sequence: 5, .joined(Self.id(1, Self.node), Self.profile("me")), suppress: Self.never)
        _ = tracker.receive(incarnation: 7, sequence: 6, .left(Self.id(2), Self.profile("b")), suppress: Self.never)
        tracker.seed(incarnation: 7, sequence: 5, members: [(Self.id(2), Self.profile("b")), (Self.id(1, Self.node), Self.profile("me"))])
        #expect(tracker.view.members.map(\.profile.name) == ["me"])
    }

    @Test func theRoomsVariablesFollowTheSeedAndTheEventsAfterIt() {
        var tracker = RoomTracker()
        let alice = Self.id(1), me = Self.id(2, Self.node)
        func change(_ kind: RoomVariableChange.Kind, _ name: String, _ data: String = "", locked: Bool = false) -> RoomEvent {
            .variable(RoomVariableChange(kind: kind, name: name, data: data, persistent: false, locked: locked,
                                         creator: kind == .delete ? nil : alice))
        }
        // Event 5 is the local join; 4 (before it) and 6, 7 (after it) arrive before its answer.
        _ = tracker.receive(incarnation: 7, sequence: 4, change(.update, "a", "old"), suppress: Self.never)
        _ = tracker.receive(incarnation: 7, sequence: 5, .joined(me, Self.profile("me")), suppress: Self.never)
        _ = tracker.receive(incarnation: 7, sequence: 6, change(.create, "b", "1"), suppress: Self.never)
        _ = tracker.receive(incarnation: 7, sequence: 7, change(.update, "a", "new", locked: true), suppress: Self.never)
        tracker.seed(incarnation: 7, sequence: 5, members: [(me, Self.profile("me"))],
                     variables: [RoomVariable(name: "a", data: "old", persistent: true, locked: false, creator: alice)])
        #expect(tracker.variables == [RoomVariable(name: "a", data: "new", persistent: false, locked: true, creator: alice),
                                      RoomVariable(name: "b", data: "1", persistent: false, locked: false, creator: alice)])
        _ = tracker.receive(incarnation: 7, sequence: 8, change(.delete, "a"), suppress: Self.never)
        _ = tracker.receive(incarnation: 7, sequence: 9, change(.delete, "nothing"), suppress: Self.never)
        #expect(tracker.variables.map(\.name) == ["b"])
    }

    @Test func aGapIsFetchedAndFilledInOrder() {
        var tracker = RoomTracker()
        _ = tracker.receive(incarnation: 7, sequence: 1, Self.message("1"), suppress: Self.never)
        let step = tracker.receive(incarnation: 7, sequence: 4, Self.message("4"), suppress: Self.never)
        #expect(step.fetch == RoomTracker.Fetch(from: 2, incarnation: 7, members: false))
        let answer = HistoryAnswer(incarnation: 7, resumeAfter: 1, lost: 0,
                                   events: [(2, Self.message("2")), (3, Self.message("3")), (4, Self.message("4"))], membersBefore: nil)
        let caught = tracker.caughtUp(answer, keep: { _ in false }, suppress: Self.never)
        #expect(Self.describe(caught.events) == ["m 2", "m 3", "m 4"])
        #expect(caught.fetch == nil)
        #expect(Self.describe(tracker.caughtUp(answer, keep: { _ in false }, suppress: Self.never).events) == [],
                "a second answer nobody waits for is ignored")
    }

    @Test func lostEventsAreReportedAndTheListsCorrected() {
        var tracker = RoomTracker()
        tracker.seed(incarnation: 7, sequence: 1, members: [(Self.id(1), Self.profile("a")), (Self.id(2), Self.profile("b"))])
        _ = tracker.receive(incarnation: 7, sequence: 1, .joined(Self.id(2), Self.profile("b")), suppress: Self.never)
        _ = tracker.receive(incarnation: 7, sequence: 900, Self.message("late"), suppress: Self.never)
        // The history holds 400 on; just before it, a had left and c had joined.
        let answer = HistoryAnswer(incarnation: 7, resumeAfter: 399, lost: 398,
                                   events: (400...900).map { ($0, Self.message("\($0)")) },
                                   membersBefore: [(Self.id(2), Self.profile("b")), (Self.id(3), Self.profile("c"))])
        let caught = tracker.caughtUp(answer, keep: { _ in false }, suppress: Self.never)
        #expect(Array(Self.describe(caught.events).prefix(4)) == ["lost 398", "left a", "joined c", "m 400"])
        #expect(caught.events.count == 3 + 501)
        #expect(tracker.view.members.map(\.profile.name) == ["b", "c"])
    }

    @Test func aNodesOwnReapIsNeitherDeliveredNorCorrected() {
        var tracker = RoomTracker()
        let mine = Self.id(1, Self.node)
        tracker.seed(incarnation: 7, sequence: 1, members: [(mine, Self.profile("me")), (Self.id(2), Self.profile("b"))])
        _ = tracker.receive(incarnation: 7, sequence: 1, .joined(Self.id(2), Self.profile("b")), suppress: Self.never)
        let reap: (RoomEvent) -> Bool = { if case .left(let id, _) = $0 { id == mine } else { false } }
        #expect(tracker.receive(incarnation: 7, sequence: 2, .left(mine, Self.profile("me")), suppress: reap).events.isEmpty)
        #expect(tracker.view.contains(mine))
        // A list check while Redis does not have it back yet keeps it.
        guard let fetch = tracker.beginCatchUp(members: true) else { Issue.record("no catch-up"); return }
        #expect(fetch == RoomTracker.Fetch(from: 3, incarnation: 7, members: true))
        let answer = HistoryAnswer(incarnation: 7, resumeAfter: 2, lost: 0, events: [], membersBefore: [(Self.id(2), Self.profile("b"))])
        #expect(tracker.caughtUp(answer, keep: { $0 == mine }, suppress: reap).events.isEmpty)
        #expect(tracker.view.contains(mine))
    }

    @Test func aNewIncarnationIsCaughtUpFromItsStartWithListsCheckedLater() {
        var tracker = RoomTracker()
        tracker.seed(incarnation: 7, sequence: 1, members: [(Self.id(1), Self.profile("a")), (Self.id(2), Self.profile("b"))])
        _ = tracker.receive(incarnation: 7, sequence: 1, Self.message("old"), suppress: Self.never)
        let step = tracker.receive(incarnation: 9, sequence: 2, Self.message("new2"), suppress: Self.never)
        #expect(step.fetch == RoomTracker.Fetch(from: 1, incarnation: 7, members: true))
        #expect(step.checkListsLater)
        #expect(tracker.receive(incarnation: 9, sequence: 3, Self.message("new3"), suppress: Self.never).events.isEmpty)
        // Not everyone is back yet (b is missing): no correction now.
        let answer = HistoryAnswer(incarnation: 9, resumeAfter: 0, lost: 0,
                                   events: [(1, Self.message("new1")), (2, Self.message("new2"))], membersBefore: [(Self.id(1), Self.profile("a"))])
        let caught = tracker.caughtUp(answer, keep: { _ in false }, suppress: Self.never)
        #expect(Self.describe(caught.events) == ["m new1", "m new2", "m new3"])
        #expect(tracker.view.members.map(\.profile.name) == ["a", "b"])
        // The later check corrects what is still wrong.
        guard let check = tracker.beginCatchUp(members: true) else { Issue.record("no check"); return }
        #expect(check == RoomTracker.Fetch(from: 4, incarnation: 9, members: true))
        let truth = HistoryAnswer(incarnation: 9, resumeAfter: 3, lost: 0, events: [], membersBefore: [(Self.id(2), Self.profile("b"))])
        #expect(Self.describe(tracker.caughtUp(truth, keep: { _ in false }, suppress: Self.never).events) == ["left a"])
    }

    @Test func viewCorrectionsListLeavesThenJoinsInTheTruthsOrder() {
        let view = MemberView([(Self.id(1), Self.profile("a")), (Self.id(2), Self.profile("b"))])
        let truth: [(id: SessionID, profile: UserProfile)] = [(Self.id(3), Self.profile("c")), (Self.id(2), Self.profile("b")), (Self.id(4), Self.profile("d"))]
        #expect(Self.describe(view.corrections(to: truth)) == ["left a", "joined c", "joined d"])
        #expect(Self.describe(view.corrections(to: truth, keep: { $0 == Self.id(1) })) == ["joined c", "joined d"])
    }
}
