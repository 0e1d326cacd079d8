import ChatDomain
import Testing

/// PROTOCOL.md sections 3, 4 and 7 as seen by one session's state machine.
@Suite struct SessionStateTests {
    static let second: UInt64 = 1_000_000_000
    static let now: UInt64 = 42 * second
    static let lobby = RoomRef(zone: "Chat", name: "Lobby")
    static let arena = RoomRef(zone: "Games", name: "Arena")

    /// A session that logged in as `name` (through `checkLogin`, as the node does).
    static func loggedIn(_ name: String = "alice", limits: ChatLimits = ChatLimits()) throws -> SessionState {
        var state = SessionState(limits: limits, defaultZone: "Chat")
        let (user, profile) = try state.checkLogin(name: name, password: "", variables: []).get()
        state.loggedIn(as: user, profile: profile)
        return state
    }

    /// A logged-in session in the Chat zone's Lobby.
    static func inLobby(limits: ChatLimits = ChatLimits()) throws -> SessionState {
        var state = try loggedIn(limits: limits)
        let lobby = try state.checkJoin(zone: "", room: "Lobby").get()
        state.joined(lobby)
        return state
    }

    // MARK: Login

    @Test func startsConnectedInTheDefaultZone() {
        let state = SessionState(limits: ChatLimits(), defaultZone: "Chat")
        #expect(state.phase == .connected)
        #expect(!state.isLoggedIn)
        #expect(state.zone == "Chat")
        #expect(state.room == nil)
        #expect(state.name == nil)
    }

    @Test func loginYieldsNameAndProfile() throws {
        var state = SessionState(limits: ChatLimits(), defaultZone: "Chat")
        let variables = [Variable(name: "color", data: "blue"), Variable(name: "size", data: "")]
        let (name, profile) = try state.checkLogin(name: "Ze\u{301}lie", password: "", variables: variables).get()
        #expect(scalars(name.display) == scalars("Z\u{E9}lie"))
        #expect(profile == UserProfile(name: name.display, moderator: false, variables: variables))
        #expect(scalars(profile.name) == scalars("Z\u{E9}lie"))
        state.loggedIn(as: name, profile: profile)
        #expect(state.isLoggedIn)
        #expect(state.name == name)
        #expect(state.profile == profile)
        #expect(state.zone == "Chat")
    }

    @Test("login refuses bad names with the name reason", arguments: [
        ("", Reason.nameRequired), ("  ", .nameRequired), (String(repeating: "x", count: 21), .nameTooLong),
        (" bob", .nameInvalid), ("b<b", .nameInvalid),
    ])
    func loginNameReasons(_ entry: (String, Reason)) {
        let state = SessionState(limits: ChatLimits(), defaultZone: "Chat")
        #expect(refusal(state.checkLogin(name: entry.0, password: "", variables: [])) == entry.1)
    }

    @Test func configuredMaxNameLength() {
        var limits = ChatLimits()
        limits.maxNameLength = 3
        let state = SessionState(limits: limits, defaultZone: "Chat")
        #expect(refusal(state.checkLogin(name: "abc", password: "", variables: [])) == nil)
        #expect(refusal(state.checkLogin(name: "abcd", password: "", variables: [])) == .nameTooLong)
    }

    @Test func secondLoginIsAlreadyLoggedIn() throws {
        let state = try Self.loggedIn("alice")
        #expect(refusal(state.checkLogin(name: "bob", password: "", variables: [])) == .alreadyLoggedIn)
        #expect(refusal(state.checkLogin(name: "alice", password: "", variables: [])) == .alreadyLoggedIn)
        // Even an invalid name: the connection state is checked first.
        #expect(refusal(state.checkLogin(name: "", password: "", variables: [])) == .alreadyLoggedIn)
    }

    @Test func withoutAccountsAnyPasswordIsAccepted() {
        let state = SessionState(limits: ChatLimits(), defaultZone: "Chat")
        #expect(refusal(state.checkLogin(name: "bob", password: "whatever", variables: [])) == nil)
        #expect(refusal(state.checkLogin(name: "bob", password: "", variables: [])) == nil)
    }

    @Test func withAccountsThePasswordMustMatch() {
        var limits = ChatLimits()
        limits.accounts = ["bob": "hunter2", "z\u{E9}lie": "pw"]
        let state = SessionState(limits: limits, defaultZone: "Chat")
        #expect(refusal(state.checkLogin(name: "bob", password: "hunter2", variables: [])) == nil)
        // Accounts are keyed by the name key: any case, any composition.
        #expect(refusal(state.checkLogin(name: "BOB", password: "hunter2", variables: [])) == nil)
        #expect(refusal(state.checkLogin(name: "ZE\u{301}LIE", password: "pw", variables: [])) == nil)
        #expect(refusal(state.checkLogin(name: "bob", password: "Hunter2", variables: [])) == .incorrectPassword)
        #expect(refusal(state.checkLogin(name: "bob", password: "", variables: [])) == .incorrectPassword)
        #expect(refusal(state.checkLogin(name: "carol", password: "hunter2", variables: [])) == .incorrectPassword)
    }

    @Test func nameRulesComeBeforeThePassword() {
        var limits = ChatLimits()
        limits.accounts = ["bob": "pw"]
        let state = SessionState(limits: limits, defaultZone: "Chat")
        #expect(refusal(state.checkLogin(name: "", password: "nope", variables: [])) == .nameRequired)
    }

    // MARK: Not logged in

    @Test func roomsAndPrivateMessagesNeedALogin() {
        var state = SessionState(limits: ChatLimits(), defaultZone: "Chat")
        #expect(state.checkJoin(zone: "", room: "Lobby") == .failure(.notLoggedIn))
        #expect(refusal(state.checkCreate(zone: "", room: "Lobby", options: RoomOptions())) == .notLoggedIn)
        #expect(refusal(state.checkPrivateMessage(to: ["bob"], "hi", now: Self.now)) == .notLoggedIn)
    }

    @Test func publicMessageNeedsARoom() throws {
        var connected = SessionState(limits: ChatLimits(), defaultZone: "Chat")
        #expect(connected.checkPublicMessage("hi", now: Self.now) == .failure(.notInRoom))
        var loggedIn = try Self.loggedIn()
        #expect(loggedIn.checkPublicMessage("hi", now: Self.now) == .failure(.notInRoom))
        var inRoom = try Self.inLobby()
        #expect(inRoom.checkPublicMessage("hi", now: Self.now) == .success(Self.lobby))
        inRoom.leftRoom()
        #expect(inRoom.checkPublicMessage("hi", now: Self.now) == .failure(.notInRoom))
    }

    // MARK: Join and create

    @Test func joinResolvesTheRoom() throws {
        let state = try Self.loggedIn()
        #expect(state.checkJoin(zone: "", room: "Lobby") == .success(Self.lobby))
        #expect(state.checkJoin(zone: "Games", room: "Arena") == .success(Self.arena))
        #expect(state.checkJoin(zone: "  Games ", room: "Arena") == .success(Self.arena))
        let decomposed = try state.checkJoin(zone: "", room: "Cafe\u{301}").get()
        #expect(scalars(decomposed.name) == scalars("Caf\u{E9}"))
    }

    @Test func joiningTheCurrentRoomIsAlreadyInRoom() throws {
        let state = try Self.inLobby()
        #expect(state.room == Self.lobby)
        #expect(state.checkJoin(zone: "", room: "Lobby") == .failure(.alreadyInRoom))
        #expect(state.checkJoin(zone: "Chat", room: "Lobby") == .failure(.alreadyInRoom))
        // Room names are case-sensitive: "lobby" is another room.
        #expect(state.checkJoin(zone: "", room: "lobby") == .success(RoomRef(zone: "Chat", name: "lobby")))
        // Same name in another zone is another room.
        #expect(state.checkJoin(zone: "Games", room: "Lobby") == .success(RoomRef(zone: "Games", name: "Lobby")))
    }

    @Test("a room name that cannot exist does not exist", arguments: ["", " Lobby", "Lob\u{0}by", String(repeating: "r", count: 33)])
    func joinBadRoomName(_ room: String) throws {
        let state = try Self.loggedIn()
        #expect(state.checkJoin(zone: "", room: room) == .failure(.roomDoesNotExist))
    }

    @Test("create refuses bad room names with the room name reason", arguments: [
        ("", Reason.roomNameRequired), (String(repeating: "r", count: 33), .roomNameTooLong),
        ("Lob\u{7}by", .roomNameInvalid), (" Lobby", .roomNameInvalid), ("Lobby ", .roomNameInvalid),
    ])
    func createRoomNameReasons(_ entry: (String, Reason)) throws {
        let state = try Self.loggedIn()
        #expect(refusal(state.checkCreate(zone: "", room: entry.0, options: RoomOptions())) == entry.1)
    }

    @Test func createUsesTheCurrentZoneAndIsNeverPermanent() throws {
        let state = try Self.loggedIn()
        let asked = RoomOptions(password: "pw", hidden: true, capacity: 4, description: "d", permanent: true)
        let (ref, options) = try state.checkCreate(zone: "", room: "Den", options: asked).get()
        #expect(ref == RoomRef(zone: "Chat", name: "Den"))
        #expect(!options.permanent)
        #expect(options.password == "pw")
        #expect(options.hidden)
        #expect(options.capacity == 4)
        let (other, _) = try state.checkCreate(zone: "Games", room: "Den", options: RoomOptions()).get()
        #expect(other == RoomRef(zone: "Games", name: "Den"))
    }

    // MARK: Zones

    @Test func zoneResolution() throws {
        var state = try Self.loggedIn()
        #expect(state.resolveZone("") == "Chat")
        #expect(state.resolveZone("   ") == "Chat")
        #expect(state.resolveZone("Games") == "Games")
        #expect(state.resolveZone("Bad\u{1}Zone") == nil)

        state.joined(Self.arena)
        #expect(state.zone == "Games")
        #expect(state.room == Self.arena)
        #expect(state.resolveZone("") == "Games")
        #expect(state.checkJoin(zone: "", room: "Lobby") == .success(RoomRef(zone: "Games", name: "Lobby")))

        state.leftRoom()
        #expect(state.room == nil)
        #expect(state.zone == "Games")
        #expect(state.resolveZone("") == "Games")
        #expect(state.checkJoin(zone: "", room: "Arena") == .success(Self.arena))
    }

    @Test func loginStartsInTheConfiguredDefaultZone() throws {
        var state = SessionState(limits: ChatLimits(), defaultZone: "Lounge")
        let (name, profile) = try state.checkLogin(name: "bob", password: "", variables: []).get()
        state.loggedIn(as: name, profile: profile)
        #expect(state.zone == "Lounge")
        #expect(state.checkJoin(zone: "", room: "Bar") == .success(RoomRef(zone: "Lounge", name: "Bar")))
    }

    // MARK: Messages

    @Test func messageLengthLimitIs4096Characters() throws {
        var state = try Self.inLobby()
        #expect(state.checkPublicMessage(String(repeating: "x", count: 4096), now: Self.now) == .success(Self.lobby))
        #expect(state.checkPublicMessage(String(repeating: "x", count: 4097), now: Self.now) == .failure(.messageTooLong))
        #expect(refusal(state.checkPrivateMessage(to: ["bob"], String(repeating: "x", count: 4096), now: Self.now)) == nil)
        #expect(refusal(state.checkPrivateMessage(to: ["bob"], String(repeating: "x", count: 4097), now: Self.now)) == .messageTooLong)
    }

    @Test func messageLengthCountsCharactersNotBytes() throws {
        var state = try Self.inLobby()
        // 4096 characters, 4 UTF-8 bytes each.
        #expect(state.checkPublicMessage(String(repeating: "\u{1F600}", count: 4096), now: Self.now) == .success(Self.lobby))
        #expect(state.checkPublicMessage(String(repeating: "\u{E9}", count: 4097), now: Self.now) == .failure(.messageTooLong))
    }

    @Test func configuredMessageLength() throws {
        var limits = ChatLimits()
        limits.maxMessageLength = 5
        var state = try Self.inLobby(limits: limits)
        #expect(state.checkPublicMessage("12345", now: Self.now) == .success(Self.lobby))
        #expect(state.checkPublicMessage("123456", now: Self.now) == .failure(.messageTooLong))
    }

    @Test func floodingAfterTheBurst() throws {
        var state = try Self.inLobby()
        for index in 1...20 {
            #expect(state.checkPublicMessage("m\(index)", now: Self.now) == .success(Self.lobby), "message \(index)")
        }
        #expect(state.checkPublicMessage("m21", now: Self.now) == .failure(.flooding))
        #expect(refusal(state.checkPrivateMessage(to: ["bob"], "p", now: Self.now)) == .flooding)
        // 100 ms later the session may send one more.
        let later = Self.now + Self.second / 10
        #expect(state.checkPublicMessage("again", now: later) == .success(Self.lobby))
        #expect(state.checkPublicMessage("again", now: later) == .failure(.flooding))
    }

    @Test func publicAndPrivateMessagesShareTheBudget() throws {
        var state = try Self.inLobby()
        for _ in 0..<10 { _ = state.checkPublicMessage("pub", now: Self.now) }
        for index in 1...10 {
            #expect(refusal(state.checkPrivateMessage(to: ["bob"], "priv", now: Self.now)) == nil, "private \(index)")
        }
        #expect(state.checkPublicMessage("pub", now: Self.now) == .failure(.flooding))
    }

    @Test func configuredFloodLimits() throws {
        var limits = ChatLimits()
        limits.floodBurst = 2
        limits.floodRate = 1
        var state = try Self.inLobby(limits: limits)
        #expect(state.checkPublicMessage("1", now: Self.now) == .success(Self.lobby))
        #expect(state.checkPublicMessage("2", now: Self.now) == .success(Self.lobby))
        #expect(state.checkPublicMessage("3", now: Self.now) == .failure(.flooding))
        #expect(state.checkPublicMessage("4", now: Self.now + Self.second / 2) == .failure(.flooding))
        #expect(state.checkPublicMessage("5", now: Self.now + Self.second) == .success(Self.lobby))
    }
}

/// Issue 8: one private message must not be able to knock a recipient out.
@Suite struct PrivateRecipientTests {
    static let now: UInt64 = 1_000_000_000

    static func loggedIn(_ limits: ChatLimits = ChatLimits()) -> SessionState {
        var state = SessionState(limits: limits, defaultZone: "Chat")
        let name = try! UserName.validate("alice", maxLength: 20).get()
        state.loggedIn(as: name, profile: UserProfile(name: "alice", variables: []))
        return state
    }

    @Test func duplicatesAreMatchedLikeLoginsAndSentOnce() throws {
        var limits = ChatLimits()
        limits.floodBurst = 100
        var state = Self.loggedIn(limits)
        let names = Array(repeating: "bob", count: 3000) + ["BOB", "Bob", "carol"]
        let recipients = try state.checkPrivateMessage(to: names, "hi", now: Self.now).get()
        #expect(recipients.map(\.name) == ["bob", "carol"])
        #expect(recipients.map(\.key) == [UserName.key(for: "bob"), UserName.key(for: "carol")])
    }

    @Test func moreDistinctRecipientsThanTheLimitSendNothing() {
        var limits = ChatLimits()
        limits.maxPrivateRecipients = 3
        limits.floodBurst = 100
        var state = Self.loggedIn(limits)
        let three = (0..<3).map { "user\($0)" }
        #expect(throws: Never.self) { try state.checkPrivateMessage(to: three, "hi", now: Self.now).get() }
        let result = state.checkPrivateMessage(to: three + ["user3"], "hi", now: Self.now)
        #expect(result.failureReason == .tooManyRecipients)
    }

    @Test func eachRecipientCostsAFloodToken() {
        var limits = ChatLimits()
        limits.floodBurst = 5
        limits.floodRate = 0.001
        var state = Self.loggedIn(limits)
        #expect(state.checkPrivateMessage(to: ["a", "b", "c"], "hi", now: Self.now).failureReason == nil)
        // Two tokens left: three recipients are refused as a whole, two go through.
        #expect(state.checkPrivateMessage(to: ["a", "b", "c"], "hi", now: Self.now).failureReason == .flooding)
        #expect(state.checkPrivateMessage(to: ["a", "b"], "hi", now: Self.now).failureReason == nil)
        #expect(state.checkPrivateMessage(to: ["a"], "hi", now: Self.now).failureReason == .flooding)
    }

    @Test func descriptionsAreCapped() {
        var limits = ChatLimits()
        limits.maxDescriptionLength = 10
        let state = Self.loggedIn(limits)
        #expect(state.checkCreate(zone: "", room: "R", options: RoomOptions(description: String(repeating: "é", count: 10))).failureReason == nil)
        #expect(state.checkCreate(zone: "", room: "R", options: RoomOptions(description: String(repeating: "é", count: 11))).failureReason == .descriptionTooLong)
    }
}

extension Result where Failure == Reason {
    var failureReason: Reason? {
        if case .failure(let reason) = self { return reason }
        return nil
    }
}
