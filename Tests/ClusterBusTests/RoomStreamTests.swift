import ClusterBus
import Testing

struct RoomStreamTests {
    typealias Stream = RoomStream<String>

    static func events(_ steps: [Stream.Delivery]) -> [String] {
        steps.map {
            switch $0 {
            case .event(let sequence, let event): "\(sequence):\(event)"
            }
        }
    }

    static func delivered(_ step: Stream.Step) -> [String]? {
        if case .deliver(let deliveries) = step { return events(deliveries) }
        return nil
    }

    @Test func theFirstEventStartsTheStreamAndOrderIsKept() {
        var stream = Stream()
        #expect(Self.delivered(stream.receive(7, "a")) == ["7:a"])
        #expect(Self.delivered(stream.receive(8, "b")) == ["8:b"])
        #expect(Self.delivered(stream.receive(8, "b")) == [], "a duplicate is dropped")
        #expect(Self.delivered(stream.receive(3, "old")) == [], "an old event is dropped")
        #expect(stream.last == 8)
    }

    @Test func aGapIsFilledFromTheHistoryBeforeAnythingNewer() {
        var stream = Stream()
        _ = stream.receive(1, "a")
        guard case .fetch(let from) = stream.receive(4, "d") else { Issue.record("no fetch for a gap"); return }
        #expect(from == 2)
        #expect(Self.delivered(stream.receive(5, "e")) == [], "held while catching up")
        #expect(Self.delivered(stream.receive(3, "c")) == [], "held while catching up")
        let (deliveries, again) = stream.caughtUp(events: [(2, "b"), (3, "c"), (4, "d")])
        #expect(Self.events(deliveries) == ["2:b", "3:c", "4:d", "5:e"])
        #expect(again == nil)
        #expect(stream.last == 5)
        #expect(!stream.fetching)
    }

    @Test func whatTheHistoryNoLongerHoldsIsSkipped() {
        var stream = Stream()
        _ = stream.receive(10, "a")
        guard case .fetch(let from) = stream.receive(20, "t") else { Issue.record("no fetch"); return }
        #expect(from == 11)
        // The history only holds 15 on: the stream resumes after 14.
        let (deliveries, again) = stream.caughtUp(resumeAfter: 14, events: (15...20).map { ($0, "e\($0)") })
        #expect(Self.events(deliveries) == (15...20).map { "\($0):e\($0)" })
        #expect(again == nil)
        #expect(stream.last == 20)
    }

    @Test func aCatchUpAfterReconnectingFindsWhatWasMissedQuietly() {
        var stream = Stream()
        _ = stream.receive(1, "a")
        #expect(stream.beginCatchUp() == 2)
        #expect(stream.beginCatchUp() == nil, "one fetch at a time")
        #expect(Self.delivered(stream.receive(4, "d")) == [])
        let (deliveries, again) = stream.caughtUp(events: [(2, "b"), (3, "c")])
        #expect(Self.events(deliveries) == ["2:b", "3:c", "4:d"])
        #expect(again == nil)
    }

    @Test func aGapLeftAfterTheFetchStartsAnotherFetch() {
        var stream = Stream()
        _ = stream.receive(1, "a")
        _ = stream.receive(3, "c")
        _ = stream.receive(6, "f")
        // The history answered up to 3; 4 and 5 were published after and missed too.
        let (deliveries, again) = stream.caughtUp(events: [(2, "b"), (3, "c")])
        #expect(Self.events(deliveries) == ["2:b", "3:c"])
        #expect(again == 4)
        #expect(stream.fetching)
        let (rest, none) = stream.caughtUp(events: [(4, "d"), (5, "e"), (6, "f")])
        #expect(Self.events(rest) == ["4:d", "5:e", "6:f"])
        #expect(none == nil)
    }

    @Test func heldEventsAreBounded() {
        var stream = Stream(maxHeld: 3)
        _ = stream.receive(1, "a")
        _ = stream.receive(3, "c")
        for n in 4...10 { _ = stream.receive(UInt64(n), "x") }
        let (deliveries, again) = stream.caughtUp(events: [(2, "b")])
        #expect(Self.events(deliveries) == ["2:b", "3:c", "4:x", "5:x"])
        #expect(again == nil, "the rest is fetched when the next event reveals the gap")
        guard case .fetch(let from) = stream.receive(11, "k") else { Issue.record("no fetch"); return }
        #expect(from == 6)
    }

    @Test func aRestartedStreamCatchesUpFromItsStart() {
        var stream = Stream()
        _ = stream.receive(40, "old")
        stream.restart(holding: 3, "new3")
        #expect(Self.delivered(stream.receive(4, "new4")) == [])
        let (deliveries, again) = stream.caughtUp(resumeAfter: 0, events: [(1, "new1"), (2, "new2"), (3, "new3")])
        #expect(Self.events(deliveries) == ["1:new1", "2:new2", "3:new3", "4:new4"])
        #expect(again == nil)
    }

    @Test func aFailedFetchIsRetriedWhenTheGapShowsAgain() {
        var stream = Stream()
        _ = stream.receive(1, "a")
        _ = stream.receive(3, "c")
        stream.fetchFailed()
        #expect(!stream.fetching)
        guard case .fetch(let from) = stream.receive(4, "d") else { Issue.record("no fetch"); return }
        #expect(from == 2)
    }
}
