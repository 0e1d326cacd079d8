@testable import ClusterBus
import Testing

/// Every transition of the subscription bookkeeping, without Redis.
@Suite struct SubscriptionStateMachineTests {
    typealias Machine = SubscriptionStateMachine<String>
    typealias Attempt = Machine.Attempt

    /// A machine whose first subscriber issued SUBSCRIBE for "room".
    static func pending() -> (Machine, Attempt) {
        var machine = Machine()
        guard case .subscribe(let attempt) = machine.subscribe("room") else {
            Issue.record("the first subscriber must issue SUBSCRIBE")
            return (machine, Attempt(number: 0))
        }
        return (machine, attempt)
    }

    @Test func anUnknownChannelHasNoState() {
        let machine = Machine()
        #expect(machine.state(of: "room") == nil)
        #expect(machine.interest(in: "room") == 0)
    }

    @Test func theFirstSubscriberIssuesSubscribe() {
        let (machine, attempt) = Self.pending()
        #expect(machine.state(of: "room") == .subscribing(interest: 1, attempt: attempt))
    }

    @Test func subscribersWhileItIsPendingWaitForTheSameConfirmation() {
        var (machine, attempt) = Self.pending()
        #expect(machine.subscribe("room") == .waitForConfirmation(attempt))
        #expect(machine.subscribe("room") == .waitForConfirmation(attempt))
        #expect(machine.state(of: "room") == .subscribing(interest: 3, attempt: attempt))
    }

    @Test func aConfirmationMakesItSubscribedOnceForAll() {
        var (machine, attempt) = Self.pending()
        #expect(machine.subscribe("room") == .waitForConfirmation(attempt))
        machine.subscribeSucceeded("room", attempt: attempt)
        #expect(machine.state(of: "room") == .subscribed(interest: 2))
        machine.subscribeSucceeded("room", attempt: attempt)  // the second waiter reports too
        #expect(machine.state(of: "room") == .subscribed(interest: 2))
    }

    @Test func subscribersOnceConfirmedGoOnAtOnce() {
        var (machine, attempt) = Self.pending()
        machine.subscribeSucceeded("room", attempt: attempt)
        #expect(machine.subscribe("room") == .none)
        #expect(machine.state(of: "room") == .subscribed(interest: 2))
    }

    @Test func channelsAreIndependent() {
        var (machine, attempt) = Self.pending()
        guard case .subscribe(let other) = machine.subscribe("other") else {
            Issue.record("another channel needs its own SUBSCRIBE")
            return
        }
        #expect(other != attempt)
        machine.subscribeSucceeded("room", attempt: other)  // the other channel's attempt
        #expect(machine.state(of: "room") == .subscribing(interest: 1, attempt: attempt))
        #expect(machine.unsubscribe("other") == .unsubscribe)
        #expect(machine.interest(in: "room") == 1)
    }

    @Test func onlyTheLastUnsubscriberIssuesUnsubscribe() {
        var (machine, attempt) = Self.pending()
        _ = machine.subscribe("room")
        _ = machine.subscribe("room")
        machine.subscribeSucceeded("room", attempt: attempt)
        #expect(machine.unsubscribe("room") == .none)
        #expect(machine.unsubscribe("room") == .none)
        #expect(machine.state(of: "room") == .subscribed(interest: 1))
        #expect(machine.unsubscribe("room") == .unsubscribe)
        #expect(machine.state(of: "room") == nil)
    }

    @Test func unsubscribingAnUnknownChannelDoesNothing() {
        var machine = Machine()
        #expect(machine.unsubscribe("room") == .none)
        #expect(machine.state(of: "room") == nil)
    }

    @Test func aFailedSubscribeWithdrawsTheSubscribersInterest() {
        let (pending, attempt) = Self.pending()
        var machine = pending
        #expect(machine.subscribeFailed("room", attempt: attempt) == .unsubscribe,
                "UNSUBSCRIBE also makes the link forget the channel it remembered")
        #expect(machine.state(of: "room") == nil)
    }

    @Test func aFailureReportedByEveryWaiterEndsWithOneUnsubscribe() {
        var (machine, attempt) = Self.pending()
        _ = machine.subscribe("room")
        #expect(machine.subscribeFailed("room", attempt: attempt) == .none)
        #expect(machine.state(of: "room") == .failed(interest: 1))
        #expect(machine.subscribeFailed("room", attempt: attempt) == .unsubscribe)
        #expect(machine.state(of: "room") == nil)
    }

    @Test func aSubscriberAfterAFailureIssuesANewSubscribe() {
        var (machine, first) = Self.pending()
        _ = machine.subscribe("room")  // a waiter, about to report the failure too
        #expect(machine.subscribeFailed("room", attempt: first) == .none)
        guard case .subscribe(let second) = machine.subscribe("room") else {
            Issue.record("a failed SUBSCRIBE must not be waited for again")
            return
        }
        #expect(second != first)
        #expect(machine.state(of: "room") == .subscribing(interest: 2, attempt: second))
        // The old waiter's failure does not cancel the new attempt.
        #expect(machine.subscribeFailed("room", attempt: first) == .none)
        #expect(machine.state(of: "room") == .subscribing(interest: 1, attempt: second))
        machine.subscribeSucceeded("room", attempt: second)
        #expect(machine.state(of: "room") == .subscribed(interest: 1))
    }

    @Test func aLateConfirmationOfAnOlderAttemptConfirmsNothing() {
        var (machine, first) = Self.pending()
        #expect(machine.subscribeFailed("room", attempt: first) == .unsubscribe)
        guard case .subscribe(let second) = machine.subscribe("room") else {
            Issue.record("expected a new SUBSCRIBE")
            return
        }
        machine.subscribeSucceeded("room", attempt: first)
        #expect(machine.state(of: "room") == .subscribing(interest: 1, attempt: second))
    }

    @Test func failuresAfterTheConfirmationChangeOnlyTheCount() {
        var (machine, attempt) = Self.pending()
        _ = machine.subscribe("room")
        machine.subscribeSucceeded("room", attempt: attempt)
        #expect(machine.subscribeFailed("room", attempt: attempt) == .none)
        #expect(machine.state(of: "room") == .subscribed(interest: 1))
    }

    /// The race the bus must never lose: the last member leaves (UNSUBSCRIBE decided) and a
    /// new member joins right after. The join must issue a new SUBSCRIBE, decided (and so
    /// sent, under the bus's lock) after the UNSUBSCRIBE, and must not count as subscribed
    /// on the strength of the old confirmation: otherwise the late UNSUBSCRIBE would leave
    /// the new member in a room whose channel nobody subscribes to.
    @Test func aLateUnsubscribeNeverUndoesANewerSubscribe() {
        var (machine, first) = Self.pending()
        machine.subscribeSucceeded("room", attempt: first)
        var commands: [String] = []
        if machine.unsubscribe("room") == .unsubscribe { commands.append("UNSUBSCRIBE") }
        switch machine.subscribe("room") {
        case .subscribe(let second):
            commands.append("SUBSCRIBE")
            #expect(second != first)
            // The old attempt's confirmation, reported late, must not stand for the new one.
            machine.subscribeSucceeded("room", attempt: first)
            #expect(machine.state(of: "room") == .subscribing(interest: 1, attempt: second))
            machine.subscribeSucceeded("room", attempt: second)
        case .waitForConfirmation, .none:
            Issue.record("a join after the last leave must subscribe again")
        }
        #expect(commands == ["UNSUBSCRIBE", "SUBSCRIBE"], "Redis ends subscribed")
        #expect(machine.state(of: "room") == .subscribed(interest: 1))
    }

    /// The same race while the new SUBSCRIBE is pending and a leave of the newcomer's
    /// predecessor arrives late: it was already counted, so nothing is unsubscribed.
    @Test func aLeaveDuringANewSubscribeDoesNotUnsubscribe() {
        var (machine, first) = Self.pending()
        machine.subscribeSucceeded("room", attempt: first)
        _ = machine.subscribe("room")                    // second member
        #expect(machine.unsubscribe("room") == .none)    // first member leaves
        #expect(machine.state(of: "room") == .subscribed(interest: 1))
        #expect(machine.unsubscribe("room") == .unsubscribe)
        guard case .subscribe(let second) = machine.subscribe("room") else {
            Issue.record("expected a new SUBSCRIBE")
            return
        }
        #expect(machine.unsubscribe("room") == .unsubscribe, "a joiner that gives up (e.g. a refused join) ends it")
        #expect(machine.state(of: "room") == nil)
        machine.subscribeSucceeded("room", attempt: second)
        #expect(machine.state(of: "room") == nil, "a confirmation for a forgotten channel changes nothing")
    }

    @Test func attemptNumbersAreNeverReused() {
        var machine = Machine()
        var seen = Set<Attempt>()
        for _ in 0..<10 {
            guard case .subscribe(let attempt) = machine.subscribe("room") else {
                Issue.record("expected SUBSCRIBE")
                return
            }
            #expect(seen.insert(attempt).inserted)
            #expect(machine.unsubscribe("room") == .unsubscribe)
        }
    }
}
