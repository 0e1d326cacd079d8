import ChorusTesting
import Foundation
import Testing

/// The judge of the fault tests, judged: made-up records with one known fault each must
/// give exactly that violation, and what PROTOCOL.md excuses (an `Error` to the sender, a
/// `Messages lost` notice) must pass. No node involved.
@Suite("Verdict of a chat load")
struct VerdictTests {
    private static let origin = Date(timeIntervalSince1970: 1_000_000)

    /// A member of room `R` on node 1 that sent `sent` messages and saw `kinds`, in order.
    private func member(_ name: String, sent: Int, closed: Bool = false, _ kinds: [ChatEvent.Kind]) -> MemberRecord {
        let events = kinds.enumerated().map { ChatEvent(at: Self.origin.addingTimeInterval(Double($0.offset) / 10), kind: $0.element) }
        return MemberRecord(name: name, room: "R", node: 0, events: events, sent: sent, unsent: 0, closed: closed)
    }

    private func message(_ text: String) -> ChatEvent.Kind {
        .publicMessage(sender: String(text.split(separator: "#")[0]), text: text)
    }

    private func verdict(_ records: [MemberRecord], expectedGone: Set<String> = [],
                         serverLists: [String: [String]?] = [:]) -> Verdict {
        Verdict("test", ChatLoad.Finish(records: records, finalRoundProblems: [], listsWereWholeWithin2s: true),
                expectedGone: expectedGone, serverLists: serverLists, origin: Self.origin)
    }

    private func count(_ verdict: Verdict, _ key: String) -> Int {
        verdict.categories.first { $0.key == key }?.count ?? -1
    }

    /// Two members a and b, 10 messages each, alternating, all delivered to both.
    private func clean() -> [[ChatEvent.Kind]] {
        let stream = (0..<10).flatMap { [message("a#\($0)"), message("b#\($0)")] }
        return [[.joined(users: ["a", "b"])] + stream, [.joined(users: ["a", "b"])] + stream]
    }

    @Test func aCleanLoadPasses() {
        let streams = clean()
        let result = verdict([member("a", sent: 10, streams[0]), member("b", sent: 10, streams[1])],
                             serverLists: ["R": ["b", "a"]])
        #expect(result.passed, "\(result)")
    }

    @Test func aMissingMessageIsLost() {
        var streams = clean()
        streams[1].removeAll { if case .publicMessage(_, "a#3") = $0 { return true } else { return false } }
        let result = verdict([member("a", sent: 10, streams[0]), member("b", sent: 10, streams[1])])
        #expect(count(result, "lost") == 1, "\(result)")
        #expect(result.violations == 1, "\(result)")
    }

    @Test func anErrorToTheSenderOrAMessagesLostNoticeExcusesOneLoss() {
        var streams = clean()
        streams[1].removeAll { if case .publicMessage(_, "a#3") = $0 { return true } else { return false } }
        var excusedByError = streams
        excusedByError[0].append(.error(reason: "Cluster unavailable", requestAction: "SendPublicMessage", detail: ""))
        let first = verdict([member("a", sent: 10, excusedByError[0]), member("b", sent: 10, excusedByError[1])])
        #expect(first.passed, "\(first)")

        var noticed = streams
        noticed[1].append(.error(reason: "Messages lost", requestAction: "", detail: "1"))
        let second = verdict([member("a", sent: 10, noticed[0]), member("b", sent: 10, noticed[1])])
        #expect(second.passed, "\(second)")

        // One notice of 1 does not excuse 2 losses; nor does an error of another request.
        noticed[1].removeAll { if case .publicMessage(_, "b#4") = $0 { return true } else { return false } }
        noticed[0].append(.error(reason: "User not found", requestAction: "SendPrivateMessage", detail: "x"))
        let third = verdict([member("a", sent: 10, noticed[0]), member("b", sent: 10, noticed[1])])
        #expect(count(third, "lost") == 1, "\(third)")
    }

    @Test func aDuplicateIsCounted() {
        var streams = clean()
        streams[0].append(message("b#2"))
        let result = verdict([member("a", sent: 10, streams[0]), member("b", sent: 10, streams[1])])
        #expect(count(result, "duplicates") == 1, "\(result)")
        #expect(result.violations == 1, "\(result)")
    }

    @Test func twoOrdersAreCounted() {
        var streams = clean()
        streams[1].swapAt(5, 6)
        let result = verdict([member("a", sent: 10, streams[0]), member("b", sent: 10, streams[1])])
        #expect(count(result, "order") == 1, "\(result)")
        #expect(result.violations == 1, "\(result)")
    }

    @Test func aMessageFromAUserNotListedIsAGhost() {
        var streams = clean()
        // b is told a left just before a#5, and that a is back just after a#6.
        let at = streams[1].firstIndex { if case .publicMessage(_, "a#5") = $0 { return true } else { return false } }!
        streams[1].insert(.userLeft("a"), at: at)
        let back = streams[1].firstIndex { if case .publicMessage(_, "a#6") = $0 { return true } else { return false } }!
        streams[1].insert(.userJoined("a"), at: back + 1)
        let result = verdict([member("a", sent: 10, streams[0]), member("b", sent: 10, streams[1])])
        #expect(count(result, "ghosts") == 2, "\(result)")
        #expect(result.violations == 2, "\(result)")

        // Not told she is back: her later messages are ghosts too, and b's list is wrong.
        streams[1].removeAll { if case .userJoined = $0 { return true } else { return false } }
        let worse = verdict([member("a", sent: 10, streams[0]), member("b", sent: 10, streams[1])])
        #expect(count(worse, "ghosts") == 5, "\(worse)")
        #expect(count(worse, "lists") == 1, "\(worse)")
    }

    @Test func closesAreExpectedOnlyForAKilledNode() {
        let streams = clean()
        let records = [member("a", sent: 10, streams[0] + [.userLeft("b")]),
                       member("b", sent: 10, closed: true, streams[1] + [.closed(reset: true)])]
        let unexpected = verdict(records)
        #expect(count(unexpected, "closes") == 1, "\(unexpected)")
        let expected = verdict(records, expectedGone: ["b"])
        #expect(expected.passed, "\(expected)")
        let notClosed = verdict([member("a", sent: 10, streams[0]), member("b", sent: 10, streams[1])], expectedGone: ["b"])
        #expect(count(notClosed, "closes") == 1, "\(notClosed)")
    }

    @Test func whatOneMemberGotFromADeadSenderEveryMemberMustGet() {
        var streams = clean()
        streams[0].insert(.userJoined("c"), at: 1)
        streams[1].insert(.userJoined("c"), at: 1)
        streams[0] += [message("c#0"), message("c#1"), .userLeft("c")]
        streams[1] += [message("c#0"), .userLeft("c")]
        let records = [member("a", sent: 10, streams[0]), member("b", sent: 10, streams[1]),
                       member("c", sent: 5, closed: true, [.joined(users: ["a", "b", "c"]), .closed(reset: false)])]
        let result = verdict(records, expectedGone: ["c"])
        #expect(count(result, "lost") == 1, "\(result)")
        #expect(result.violations == 1, "\(result)")
    }

    @Test func aWrongNewcomerListAndASilentLoadFail() {
        let streams = clean()
        let wrongList = verdict([member("a", sent: 10, streams[0]), member("b", sent: 10, streams[1])],
                                serverLists: ["R": ["a"]])
        #expect(count(wrongList, "newcomerLists") == 1, "\(wrongList)")

        // A load in which nothing was delivered never passes.
        let silent = verdict([member("a", sent: 0, [.joined(users: ["a", "b"])]), member("b", sent: 0, [.joined(users: ["a", "b"])])])
        #expect(!silent.passed, "\(silent)")
        // Nor one whose senders got only errors: the final round (liveness) catches it.
        let dead = Verdict("test", ChatLoad.Finish(records: [member("a", sent: 10, streams[0]), member("b", sent: 10, streams[1])],
                                                   finalRoundProblems: ["a: final message a#10 did not reach [b]"],
                                                   listsWereWholeWithin2s: true), origin: Self.origin)
        #expect(count(dead, "liveness") == 1, "\(dead)")
    }
}
