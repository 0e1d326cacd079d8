/// A node's interest in pub/sub channels, and the SUBSCRIBE and UNSUBSCRIBE decisions it
/// implies. Pure: it issues nothing, it answers with actions that the caller carries out.
///
/// Each local session joining a room is one unit of interest in the room's channel. The
/// first one issues SUBSCRIBE; those arriving while it is pending wait for the same
/// confirmation; those arriving once it is confirmed go on at once. The last one to go
/// issues UNSUBSCRIBE, and the channel is forgotten: a later subscribe issues a new
/// SUBSCRIBE.
///
/// Ordering: the caller must carry out each action in the same critical section as the call
/// that returned it (the bus holds its lock around both), so Redis receives SUBSCRIBE and
/// UNSUBSCRIBE in the order of the decisions, on one connection. A late UNSUBSCRIBE then can
/// never undo a newer SUBSCRIBE: the UNSUBSCRIBE was decided, hence sent, first.
///
/// Confirmations are reported with the `Attempt` they belong to, so a late report of an
/// older attempt never confirms (or cancels) a newer one.
struct SubscriptionStateMachine<Channel: Hashable & Sendable>: Sendable {
    /// One SUBSCRIBE issued for a channel; numbers are never reused.
    struct Attempt: Hashable, Sendable {
        let number: UInt64
    }

    enum SubscribeAction: Hashable, Sendable {
        /// Issue SUBSCRIBE now, wait for its confirmation, then report it
        /// (`subscribeSucceeded` or `subscribeFailed` with this attempt).
        case subscribe(Attempt)
        /// Another caller's SUBSCRIBE is pending: wait for its confirmation, then report it.
        case waitForConfirmation(Attempt)
        /// The channel is subscribed and confirmed: go on.
        case none
    }

    enum UnsubscribeAction: Hashable, Sendable {
        /// The last interest is gone: issue UNSUBSCRIBE now and forget the channel.
        case unsubscribe
        case none
    }

    enum State: Hashable, Sendable {
        /// A SUBSCRIBE is pending.
        case subscribing(interest: Int, attempt: Attempt)
        /// Confirmed.
        case subscribed(interest: Int)
        /// The last SUBSCRIBE failed and callers still hold interest (they are about to
        /// report the failure); the next subscribe issues a new one.
        case failed(interest: Int)

        var interest: Int {
            switch self {
            case .subscribing(let interest, _), .subscribed(let interest), .failed(let interest): interest
            }
        }

        func with(interest: Int) -> State {
            switch self {
            case .subscribing(_, let attempt): .subscribing(interest: interest, attempt: attempt)
            case .subscribed: .subscribed(interest: interest)
            case .failed: .failed(interest: interest)
            }
        }
    }

    private var channels: [Channel: State] = [:]
    private var nextAttempt: UInt64 = 1

    init() {}

    /// The channel's state; nil when nobody is interested (not subscribed).
    func state(of channel: Channel) -> State? {
        channels[channel]
    }

    /// Units of interest in `channel` (0 when unknown).
    func interest(in channel: Channel) -> Int {
        channels[channel]?.interest ?? 0
    }

    /// One more caller needs `channel` (a local session is about to join the room).
    mutating func subscribe(_ channel: Channel) -> SubscribeAction {
        switch channels[channel] {
        case nil:
            let attempt = makeAttempt()
            channels[channel] = .subscribing(interest: 1, attempt: attempt)
            return .subscribe(attempt)
        case .failed(let interest):
            let attempt = makeAttempt()
            channels[channel] = .subscribing(interest: interest + 1, attempt: attempt)
            return .subscribe(attempt)
        case .subscribing(let interest, let attempt):
            channels[channel] = .subscribing(interest: interest + 1, attempt: attempt)
            return .waitForConfirmation(attempt)
        case .subscribed(let interest):
            channels[channel] = .subscribed(interest: interest + 1)
            return .none
        }
    }

    /// `attempt`'s SUBSCRIBE was confirmed. Reports of an attempt that is no longer the
    /// pending one change nothing.
    mutating func subscribeSucceeded(_ channel: Channel, attempt: Attempt) {
        guard case .subscribing(let interest, attempt) = channels[channel] else { return }
        channels[channel] = .subscribed(interest: interest)
    }

    /// `attempt`'s SUBSCRIBE failed; the reporting caller gives up its interest (it does not
    /// join). If `attempt` is the pending one, the next subscribe issues a new SUBSCRIBE.
    mutating func subscribeFailed(_ channel: Channel, attempt: Attempt) -> UnsubscribeAction {
        if case .subscribing(let interest, attempt) = channels[channel] {
            channels[channel] = .failed(interest: interest)
        }
        return unsubscribe(channel)
    }

    /// One caller no longer needs `channel` (a local session left the room). Unknown
    /// channels (a leave with no matching join) change nothing.
    mutating func unsubscribe(_ channel: Channel) -> UnsubscribeAction {
        guard let state = channels[channel] else { return .none }
        let interest = state.interest - 1
        if interest > 0 {
            channels[channel] = state.with(interest: interest)
            return .none
        }
        channels[channel] = nil
        return .unsubscribe
    }

    private mutating func makeAttempt() -> Attempt {
        defer { nextAttempt += 1 }
        return Attempt(number: nextAttempt)
    }
}
