/// One room's sequenced event stream as one node receives it (docs/cluster.md, "Sequenced
/// room streams"). Pure: the bus feeds it what arrives from the room's channel and what a
/// history fetch returns; it answers what to deliver, in order, and when to fetch.
///
/// Every room event carries the room's sequence number, assigned atomically in Redis. The
/// node delivers each number once, in order:
/// - the first event seen starts the stream (no local member wanted anything before it:
///   a local member becomes one through its own join event, which comes later);
/// - a number already delivered is a duplicate (a replay, a catch-up overlap): dropped;
/// - a number past the next one is a gap (a reconnection, a stall, a freeze): events that
///   arrive from then on are held, the missing ones are fetched from the room's history,
///   and delivery goes on in order once they are in. Where the history no longer holds
///   them, it goes on from what the history still has (the caller reports the rest).
public struct RoomStream<Event>: Sendable where Event: Sendable {
    public enum Delivery: Sendable {
        case event(UInt64, Event)
    }

    /// What to do after an event arrived.
    public enum Step: Sendable {
        /// Deliver these, in order (empty: a duplicate, or held during a catch-up).
        case deliver([Delivery])
        /// A gap: fetch the room's history from this number on (the event is held).
        case fetch(from: UInt64)
    }

    /// The most events held during one catch-up; past it, further ones are dropped and
    /// fetched again afterwards (they are in the history too).
    public let maxHeld: Int
    /// The number of the last event delivered; nil before the first.
    public private(set) var last: UInt64?
    /// A history fetch is in flight.
    public private(set) var fetching = false
    private var held: [(UInt64, Event)] = []

    public init(maxHeld: Int = 10_000) {
        self.maxHeld = maxHeld
    }

    /// The common case, without allocating: `sequence` is the next number and no fetch is
    /// in flight. True when it was taken (deliver it); false: call `receive`.
    public mutating func takeIfNext(_ sequence: UInt64) -> Bool {
        guard !fetching, let last, sequence == last + 1 else { return false }
        self.last = sequence
        return true
    }

    public mutating func receive(_ sequence: UInt64, _ event: Event) -> Step {
        if fetching {
            if last.map({ sequence > $0 }) ?? true, held.count < maxHeld { held.append((sequence, event)) }
            return .deliver([])
        }
        guard let last else {
            self.last = sequence
            return .deliver([.event(sequence, event)])
        }
        if sequence <= last { return .deliver([]) }
        if sequence == last + 1 {
            self.last = sequence
            return .deliver([.event(sequence, event)])
        }
        fetching = true
        held = [(sequence, event)]
        return .fetch(from: last + 1)
    }

    /// Starts a catch-up on purpose (after the subscription was re-established, events may
    /// have been missed with nothing newer to reveal the gap). Nil: nothing to catch up
    /// (no event seen yet, or a fetch already in flight).
    public mutating func beginCatchUp() -> UInt64? {
        guard !fetching, let last else { return nil }
        fetching = true
        held = []
        return last + 1
    }

    /// The history answered: `events` are the room's events in order. When the history no
    /// longer held some, or the room's numbering started again, `resumeAfter` is the number
    /// the stream goes on after (what was skipped is the caller's to report). Returns what
    /// to deliver, and where to fetch again if a gap is left.
    public mutating func caughtUp(resumeAfter: UInt64? = nil, events: [(UInt64, Event)]) -> (deliveries: [Delivery], fetchFrom: UInt64?) {
        if let resumeAfter { last = resumeAfter }
        var deliveries: [Delivery] = []
        let pending = held
        held = []
        fetching = false
        let all = events + pending
        for (sequence, event) in all {
            guard let last else {
                self.last = sequence
                deliveries.append(.event(sequence, event))
                continue
            }
            if sequence <= last { continue }
            if sequence == last + 1 {
                self.last = sequence
                deliveries.append(.event(sequence, event))
                continue
            }
            // Still a gap (the history answered before newer events were published, and
            // one of those was missed too): hold the rest and fetch again.
            fetching = true
            held = Array(all.drop { $0.0 < sequence })
            return (deliveries, last + 1)
        }
        return (deliveries, nil)
    }

    /// The room's stream started again (a new incarnation: the room was deleted and made
    /// again): forget the old numbers, hold `event`, and catch up from the start.
    public mutating func restart(holding sequence: UInt64, _ event: Event) {
        last = nil
        fetching = true
        held = [(sequence, event)]
    }

    /// The fetch failed (the cluster is unreachable): held events are dropped; the next
    /// event, or the catch-up after reconnecting, reveals the gap again.
    public mutating func fetchFailed() {
        fetching = false
        held = []
    }
}
