/// The state machine of one session (PROTOCOL.md section 3): connected → logged in →
/// in a room. Pure: the node asks it what a request means in the current state, performs
/// the cluster operation it names, and reports the outcome back. Every refusal comes out
/// as one of the reason strings of PROTOCOL.md.
public struct SessionState: Sendable {
    public enum Phase: Sendable, Equatable {
        case connected
        case loggedIn
    }

    public let limits: ChatLimits
    public let defaultZone: String
    public private(set) var phase: Phase = .connected
    public private(set) var name: UserName?
    public private(set) var profile: UserProfile?
    /// The user's zone: the default zone after login, or the zone of the room it last joined.
    public private(set) var zone: String
    public private(set) var room: RoomRef?
    private var flood: TokenBucket
    /// Wrong room and account passwords of this session (PROTOCOL.md section 7).
    public var passwordAttempts: PasswordAttempts

    public init(limits: ChatLimits, defaultZone: String) {
        self.limits = limits
        self.defaultZone = defaultZone
        self.zone = defaultZone
        self.flood = TokenBucket(rate: limits.floodRate, burst: limits.floodBurst)
        self.passwordAttempts = PasswordAttempts(policy: limits.passwordAttempts)
    }

    public var isLoggedIn: Bool { phase == .loggedIn }

    // MARK: Login

    /// What a Login request asks the cluster for: the validated name and the user's profile.
    public func checkLogin(name raw: String, password: String, variables: [Variable]) -> Result<(UserName, UserProfile), Reason> {
        guard phase == .connected else { return .failure(.alreadyLoggedIn) }
        let name: UserName
        switch UserName.validate(raw, maxLength: limits.maxNameLength) {
        case .failure(let reason): return .failure(reason)
        case .success(let valid): name = valid
        }
        // A moderator's name (or a look-alike of it) is not free for plain logins while the
        // moderators file lists it: to others it is a name in use (docs/protocol.md, AdminLogin).
        if limits.moderators[name.key] != nil { return .failure(.nameInUse) }
        if !passwordMatches(name, password) { return .failure(.incorrectPassword) }
        return .success((name, UserProfile(name: name.display, variables: variables)))
    }

    /// What an AdminLogin request asks the cluster for: the moderator's validated name and
    /// profile (`Moderator="true"`). Any name that is not a moderator's, or a wrong password,
    /// is `Incorrect password`, so the answer never tells which names are moderators.
    public func checkAdminLogin(name raw: String, password: String) -> Result<(UserName, UserProfile), Reason> {
        guard phase == .connected else { return .failure(.alreadyLoggedIn) }
        guard case .success(let name) = UserName.validate(raw, maxLength: limits.maxNameLength), !name.mixesScripts,
              let expected = limits.moderators[name.key], expected == password else { return .failure(.incorrectPassword) }
        return .success((name, UserProfile(name: name.display, moderator: true)))
    }

    /// Whether this session logged in as a moderator.
    public var isModerator: Bool { profile?.moderator == true }

    /// What a ModeratorCommand asks the cluster for, or why not: `Not allowed` (not logged in
    /// as a moderator), `User not found` (a name no login can have). `minorAction` is
    /// `Kick`, `Ban` or `Unban` in any letter case; nil for any other (the caller answers it).
    public func checkModeration(minorAction: String, userName: String, reason: String, expires: String,
                                address: Bool) -> Result<Moderation, Reason>? {
        let action: Moderation.Action
        switch minorAction.trimmingSpaces.lowercased() {
        case "kick": action = .kick
        case "ban": action = .ban(minutes: Moderation.minutes(fromExpires: expires), address: address)
        case "unban": action = .unban
        default: return nil
        }
        guard phase == .loggedIn, isModerator else { return .failure(.notAllowed) }
        let target = userName.trimmingSpaces
        guard case .success(let name) = UserName.validate(target, maxLength: limits.maxNameLength) else {
            return .failure(.userNotFound)
        }
        return .success(Moderation(action: action, targetName: target, targetKey: name.key, reason: reason))
    }

    /// Whether logins check passwords (the node has accounts).
    public var checksPasswords: Bool { !limits.accounts.isEmpty }

    /// The account password check of `checkLogin`: true when the node has no accounts or
    /// the password is the name's.
    public func passwordMatches(_ name: UserName, _ password: String) -> Bool {
        !checksPasswords || limits.accounts[name.key] == password
    }

    /// The cluster accepted the name.
    public mutating func loggedIn(as name: UserName, profile: UserProfile) {
        phase = .loggedIn
        self.name = name
        self.profile = profile
        zone = defaultZone
        room = nil
    }

    // MARK: Rooms

    /// Resolves the zone of a request: empty means the user's current zone.
    public func resolveZone(_ raw: String) -> String? {
        let trimmed = raw.trimmingSpaces
        if trimmed.isEmpty { return zone }
        return RoomRules.normalizedZone(trimmed, maxLength: limits.maxRoomNameLength)
    }

    /// What a JoinRoom request asks the cluster for.
    public func checkJoin(zone rawZone: String, room rawRoom: String) -> Result<RoomRef, Reason> {
        guard phase == .loggedIn else { return .failure(.notLoggedIn) }
        guard let zone = resolveZone(rawZone),
              case .success(let name) = RoomRules.validateRoomName(rawRoom, maxLength: limits.maxRoomNameLength)
        else { return .failure(.roomDoesNotExist) }
        let ref = RoomRef(zone: zone, name: name)
        if ref == room { return .failure(.alreadyInRoom) }
        return .success(ref)
    }

    /// What a CreateRoom request asks the cluster for.
    public func checkCreate(zone rawZone: String, room rawRoom: String, options: RoomOptions) -> Result<(RoomRef, RoomOptions), Reason> {
        guard phase == .loggedIn else { return .failure(.notLoggedIn) }
        let name: String
        switch RoomRules.validateRoomName(rawRoom, maxLength: limits.maxRoomNameLength) {
        case .failure(let reason): return .failure(reason)
        case .success(let valid): name = valid
        }
        guard let zone = resolveZone(rawZone) else { return .failure(.roomNameInvalid) }
        if exceeds(options.description, limits.maxDescriptionLength) { return .failure(.descriptionTooLong) }
        var options = options
        options.permanent = false
        return .success((RoomRef(zone: zone, name: name), options))
    }

    /// What a ChangeRoomDetails request asks the cluster for (PROTOCOL.md section 5): the
    /// change to the user's current room, or why not (`Not in a room`, `Description is too
    /// long`). Nil for an unknown `MinorAction` (the caller answers it). Whether the user
    /// may change the room (its creator, a moderator) is the cluster's to decide: only it
    /// knows who created the room.
    public func checkChangeRoomDetails(minorAction: String, description: String, capacity: String, hidden: String,
                                       isProtected: String, password: String, updatable: String) -> Result<RoomDetailChange, Reason>? {
        guard let change = RoomDetailChange.parse(minorAction: minorAction, description: description, capacity: capacity,
                                                  hidden: hidden, isProtected: isProtected, password: password,
                                                  updatable: updatable) else { return nil }
        guard phase == .loggedIn, room != nil else { return .failure(.notInRoom) }
        if let reason = change.refusal(limits: limits) { return .failure(reason) }
        return .success(change)
    }

    /// The cluster joined the user to `room` (leaving its previous room).
    public mutating func joined(_ room: RoomRef) {
        self.room = room
        zone = room.zone
    }

    /// The user left its room (it stays in the room's zone).
    public mutating func leftRoom() {
        room = nil
    }

    // MARK: Messages

    /// A public message: the room it goes to, or why not.
    public mutating func checkPublicMessage(_ text: String, now: UInt64) -> Result<RoomRef, Reason> {
        guard let room else { return .failure(.notInRoom) }
        if isTooLong(text) { return .failure(.messageTooLong) }
        guard flood.take(at: now) else { return .failure(.flooding) }
        return .success(room)
    }

    /// A private message: its distinct recipients (matched like logins: the first spelling
    /// of each name is kept, for `User not found` details), or why it may not be sent. Each
    /// recipient costs one flood token; over the recipient limit nothing is sent.
    public mutating func checkPrivateMessage(to names: [String], _ text: String, now: UInt64) -> Result<[PrivateRecipient], Reason> {
        guard phase == .loggedIn else { return .failure(.notLoggedIn) }
        if isTooLong(text) { return .failure(.messageTooLong) }
        var seen = Set<String>()
        var recipients: [PrivateRecipient] = []
        for name in names {
            // A name longer than any login can be is nobody; its key is not worth computing.
            let key = exceeds(name, limits.maxNameLength) ? "\u{0}" + name : UserName.key(for: name)
            guard seen.insert(key).inserted else { continue }
            recipients.append(PrivateRecipient(name: name, key: key))
            if recipients.count > limits.maxPrivateRecipients { return .failure(.tooManyRecipients) }
        }
        guard flood.take(max(recipients.count, 1), at: now) else { return .failure(.flooding) }
        return .success(recipients)
    }
}

extension SessionState {
    /// Longer than the message limit, in characters. A text with no more UTF-8 bytes than
    /// the limit cannot have more characters, so most texts are judged without counting.
    func isTooLong(_ text: String) -> Bool {
        exceeds(text, limits.maxMessageLength)
    }

    /// More than `limit` characters; a text with no more UTF-8 bytes than that cannot be.
    func exceeds(_ text: String, _ limit: Int) -> Bool {
        text.utf8.count > limit && text.count > limit
    }
}

extension String {
    /// The string without leading and trailing whitespace.
    var trimmingSpaces: String {
        var slice = Substring(self)
        while slice.first?.isWhitespace == true { slice.removeFirst() }
        while slice.last?.isWhitespace == true { slice.removeLast() }
        return String(slice)
    }
}
