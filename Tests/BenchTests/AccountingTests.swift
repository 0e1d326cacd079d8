import ChorusTesting
import Testing
@testable import Bench

@Suite struct LayoutTests {
    @Test func everyRoomHasMembersOnEveryNode() {
        let l = Layout(clients: 1000, nodes: 2, rooms: 10)
        #expect(l.membersPerRoom == [Int](repeating: 100, count: 10))
        for r in 0..<10 {
            let members = (0..<1000).filter { l.room(of: $0) == r }
            #expect(Set(members.map { l.node(of: $0) }) == [0, 1])
            // member positions are dense and invert
            #expect(members.map { l.member(of: $0) }.sorted() == Array(0..<100))
            for i in members { #expect(l.client(room: r, member: l.member(of: i)) == i) }
        }
        #expect(l.creators == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18])
    }

    @Test func unevenLayout() {
        let l = Layout(clients: 7, nodes: 3, rooms: 2)
        // i: 0 1 2 | 3 4 5 | 6  -> rooms (i/3)%2: 0 0 0 1 1 1 0
        #expect(l.membersPerRoom == [4, 3])
        #expect(l.creators == [0, 3])
        #expect(Layout(clients: 3, nodes: 2, rooms: 4).creators == [0, 2])
    }
}

@Suite struct SequenceCheckTests {
    private func run(_ seqs: [Int32]) -> SequenceCheck {
        var c = SequenceCheck()
        var last: Int32 = -1
        for s in seqs { c.observe(s, last: &last) }
        return c
    }

    @Test func inOrderIsClean() {
        #expect(run([0, 1, 2, 3]) == SequenceCheck())
    }

    @Test func gapsCountMissingMessages() {
        #expect(run([0, 3, 4, 7]) == SequenceCheck(gaps: 4, reorders: 0))
        #expect(run([2]) == SequenceCheck(gaps: 2, reorders: 0))
    }

    @Test func reordersAndDuplicates() {
        // 0 2 1 3: the 2 skips 1 (gap of 1), then 1 comes late (reorder)
        #expect(run([0, 2, 1, 3]) == SequenceCheck(gaps: 1, reorders: 1))
        #expect(run([0, 1, 1, 2]) == SequenceCheck(gaps: 0, reorders: 1))
    }
}

@Suite struct RoomOrderTests {
    /// Simulates receivers that saw `sequences` (lists of (sender, seq)) through one table each
    /// (one per loop), receivers assigned round-robin to `loops` tables.
    private func disagreements(_ sequences: [[(Int, Int)]], loops: Int = 1) -> Int64 {
        let tables = (0..<loops).map { _ in RoomOrderTable(senders: 8) }
        for (r, seq) in sequences.enumerated() {
            var last = noPredecessor
            for (s, q) in seq {
                tables[r % loops].observe(sender: s, seq: q, predecessor: last)
                last = messageKey(sender: s, seq: q)
            }
        }
        return RoomOrderTable.merge(tables)
    }

    @Test func identicalOrdersAgree() {
        let order = [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1)]
        #expect(disagreements([order, order, order]) == 0)
        #expect(disagreements([order, order, order], loops: 2) == 0)
        #expect(disagreements([order, order, order, order], loops: 3) == 0)
    }

    @Test func aSwapIsDetected() {
        let a = [(0, 0), (1, 0), (0, 1), (2, 0)]
        let b = [(0, 0), (0, 1), (1, 0), (2, 0)]  // (1,0) and (0,1) swapped
        #expect(disagreements([a, a, b]) > 0)
        #expect(disagreements([a, b], loops: 2) > 0)
        #expect(disagreements([a, a, a, b], loops: 2) > 0)
    }

    @Test func sameSetDifferentOrderAcrossLoopsIsCountedPerReceiver() {
        let a = [(0, 0), (1, 0)]
        let b = [(1, 0), (0, 0)]
        // loop 0 holds a (reference), loop 1 holds b twice (receivers 1 and 3)
        let n = disagreements([a, b, a, b], loops: 2)
        // every message of b disagrees with the reference for both b receivers
        #expect(n == 4)
    }

    @Test func perSenderOrderAloneIsNotEnough() {
        // Each sender's own messages are in order for both receivers, but the interleaving differs.
        let a = [(0, 0), (1, 0), (0, 1), (1, 1)]
        let b = [(1, 0), (0, 0), (1, 1), (0, 1)]
        #expect(disagreements([a, b]) > 0)
    }

    @Test func lateJoinerAndLossAreVisible() {
        let full = [(0, 0), (1, 0), (0, 1)]
        let missing = [(0, 0), (0, 1)]  // lost (1,0): its next message has another predecessor
        #expect(disagreements([full, missing]) == 1)
    }

    @Test func growsForLongRuns() {
        let t = RoomOrderTable(senders: 2)
        var last = noPredecessor
        for q in 0..<10_000 {
            #expect(t.observe(sender: 1, seq: q, predecessor: last))
            last = messageKey(sender: 1, seq: q)
        }
        #expect(t.entry(sender: 1, seq: 9_999).matches == 1)
        #expect(t.entry(sender: 1, seq: 9_999).predecessor == messageKey(sender: 1, seq: 9_998))
        // out-of-range senders and absurd sequences are ignored, never crash
        #expect(t.observe(sender: 7, seq: 0, predecessor: last))
        #expect(t.observe(sender: 0, seq: 1 << 40, predecessor: last))
    }
}

@Suite struct LossTests {
    @Test func expectedCountsEveryMemberIncludingTheSender() {
        let l = Layout(clients: 8, nodes: 2, rooms: 2)  // rooms of 4
        #expect(l.membersPerRoom == [4, 4])
        var sent = [Int](repeating: 0, count: 8)
        sent[0] = 10
        sent[3] = 5
        #expect(expectedDeliveries(sentPerClient: sent, layout: l, isPrivate: false) == 60)
        #expect(expectedDeliveries(sentPerClient: sent, layout: l, isPrivate: true) == 15)
    }
}

@Suite struct ReportTests {
    @Test func jsonRoundTrip() throws {
        var o = JSONObject()
        o.set("label", "closed-w4")
        o.set("mode", "closed")
        o.set("loss", 0)
        o.set("p50_ms", 1.25)
        o.set("cpu_pct", .object([("node1", .number(50)), ("bench", .number(20.5))]))
        o.set("text", "a \"quoted\"\nline")
        let text = o.value.serialized()
        let back = try JSONValue.parse(text)
        #expect(back == o.value)
        #expect(back["p50_ms"]?.double == 1.25)
        let table = ReportPrinter.table([back])
        #expect(table.contains("closed-w4"))
        #expect(table.contains("node1/bench"))
    }

    @Test func fixedPoint() {
        #expect(fmt(1.005, 2) == "1.00" || fmt(1.005, 2) == "1.01")
        #expect(fmt(12.3456, 2) == "12.35")
        #expect(fmt(-0.5, 1) == "-0.5")
        #expect(fmt(7, 0) == "7")
        #expect(fmt(0.04, 1) == "0.0")
    }
}
