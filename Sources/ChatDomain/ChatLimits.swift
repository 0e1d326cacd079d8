/// The configurable rules of a chat node (PROTOCOL.md defaults).
public struct ChatLimits: Sendable, Equatable {
    public var maxNameLength = 20
    public var maxRoomNameLength = 32
    public var maxMessageLength = 4096
    /// Room descriptions, in characters (`Description is too long`).
    public var maxDescriptionLength = 1024
    /// Distinct recipients of one private message (`Too many recipients`).
    public var maxPrivateRecipients = 20
    /// Flood control: messages per second on average, and burst.
    public var floodRate: Double = 10
    public var floodBurst = 20
    /// How wrong room and account passwords of a session are answered (section 7).
    public var passwordAttempts = PasswordAttempts.Policy()
    /// Accounts (name key → password). Empty: any password is accepted.
    public var accounts: [String: String] = [:]
    /// Moderator accounts (name key → password), from `--moderators`. Their names are
    /// reserved: a plain `Login` of one gets `Name is already in use`.
    public var moderators: [String: String] = [:]
    /// How long one minute of a ban's `Expires` lasts, in milliseconds (60 000; tests shorten
    /// it with the hidden `--ban-minute-seconds`).
    public var banMinuteMilliseconds: Int64 = 60_000

    public init() {}
}
