/// Wrong passwords of one session, room or account alike (PROTOCOL.md section 7): the
/// first few are answered at once, later ones more and more slowly, and past the limit
/// the session is disconnected. Pure: the node applies the penalty.
public struct PasswordAttempts: Sendable, Equatable {
    /// What to do with the answer to a wrong password.
    public enum Penalty: Sendable, Equatable {
        case none
        /// Answer only after this many milliseconds (nothing else of the session runs meanwhile).
        case delay(milliseconds: Int)
        /// Answer, then disconnect.
        case disconnect
    }

    /// The policy: PROTOCOL.md's numbers by default.
    public struct Policy: Sendable, Equatable {
        /// Wrong passwords answered at once.
        public var free = 5
        /// Wrong passwords after which the session is disconnected.
        public var limit = 20
        /// The first delay in milliseconds, doubled for every further wrong password up
        /// to `maximumDelay`.
        public var firstDelay = 250
        public var maximumDelay = 8_000

        public init() {}
    }

    public let policy: Policy
    public private(set) var wrong = 0

    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    /// Counts a wrong password and says how to answer it.
    public mutating func recordWrong() -> Penalty {
        wrong += 1
        if wrong >= policy.limit { return .disconnect }
        if wrong <= policy.free { return .none }
        let doublings = min(wrong - policy.free - 1, 16)
        return .delay(milliseconds: min(policy.firstDelay << doublings, policy.maximumDelay))
    }
}
