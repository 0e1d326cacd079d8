/// What a moderator asks for (PROTOCOL.md section 5, `ModeratorCommand`), checked: the
/// target's name key (matched like logins: case, NFC and look-alikes folded), and for a ban
/// how long it lasts.
public struct Moderation: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Disconnect the target; it may log in again at once.
        case kick
        /// Ban the target's name (and, with `address`, its client address) for `minutes`
        /// (nil: until `Unban`), and disconnect it if it is online.
        case ban(minutes: Int?, address: Bool)
        /// Lift the name's ban (and the address ban that came with it).
        case unban
    }

    public var action: Action
    /// The target's name as the moderator typed it (for `Detail`s and logs).
    public var targetName: String
    /// The target's `UserName.key`.
    public var targetKey: String
    /// What the moderator gave as the reason (sent to the target).
    public var reason: String

    public init(action: Action, targetName: String, targetKey: String, reason: String) {
        self.action = action
        self.targetName = targetName
        self.targetKey = targetKey
        self.reason = reason
    }

    /// The longest ban in minutes (10 years); a longer `Expires` is capped to it.
    public static let maxMinutes = 10 * 366 * 24 * 60

    /// `Expires` as sent: a whole number of minutes, at least 1; `-1`, `0`, any other
    /// negative number, an empty or unreadable value mean "until `Unban`" (nil).
    public static func minutes(fromExpires raw: String) -> Int? {
        guard let value = Int(raw.trimmingSpaces), value > 0 else { return nil }
        return min(value, maxMinutes)
    }

    /// The ban's lifetime in milliseconds for the cluster (nil: no expiry), where one minute
    /// lasts `minuteMilliseconds`.
    public static func banMilliseconds(minutes: Int?, minuteMilliseconds: Int64) -> Int64? {
        guard let minutes else { return nil }
        let (product, overflow) = Int64(minutes).multipliedReportingOverflow(by: max(1, minuteMilliseconds))
        return overflow ? Int64.max / 2 : product
    }

    /// What `Expires` the target's `Banned` push says: the minutes, or -1 until `Unban`.
    public var expiresText: String {
        if case .ban(let minutes?, _) = action { return "\(minutes)" }
        return "-1"
    }
}
