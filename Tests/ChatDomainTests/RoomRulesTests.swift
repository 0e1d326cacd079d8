import ChatDomain
import Testing

/// PROTOCOL.md section 4, CreateRoom: room name rules, zone names, room identity and options.
@Suite struct RoomRulesTests {
    let max = ChatLimits().maxRoomNameLength

    @Test func emptyRoomNameIsRequired() {
        #expect(RoomRules.validateRoomName("", maxLength: max) == .failure(.roomNameRequired))
    }

    @Test func whitespaceOnlyRoomNameIsRefused() {
        let reason = refusal(RoomRules.validateRoomName("   ", maxLength: max))
        #expect(reason == .roomNameRequired || reason == .roomNameInvalid)
    }

    @Test func defaultMaximumIsThirtyTwoCharacters() {
        #expect(max == 32)
        #expect(RoomRules.validateRoomName(.repeating("r", 32), maxLength: max) == .success(.repeating("r", 32)))
        #expect(RoomRules.validateRoomName(.repeating("r", 33), maxLength: max) == .failure(.roomNameTooLong))
    }

    @Test("room name length counts characters", arguments: ["\u{E9}", "e\u{301}", "\u{1F389}", "\u{4E2D}"])
    func lengthCountsCharacters(_ piece: String) {
        #expect(refusal(RoomRules.validateRoomName(.repeating(piece, 32), maxLength: max)) == nil)
        #expect(RoomRules.validateRoomName(.repeating(piece, 33), maxLength: max) == .failure(.roomNameTooLong))
    }

    @Test("control characters and edge whitespace are invalid", arguments: [
        "Lob\u{0}by", "Lobby\n", "a\tb", "\u{7F}Lobby", "Lobby\u{9F}x", "a\u{1B}[31mred", "\r\nLobby",
        " Lobby", "Lobby ", "\tLobby", "Lobby\u{3000}",
    ])
    func invalidRoomNames(_ raw: String) {
        #expect(RoomRules.validateRoomName(raw, maxLength: max) == .failure(.roomNameInvalid))
    }

    @Test("format characters are invalid", arguments: [
        "Lobby\u{202E}", "\u{202E}ybboL", "Lob\u{202D}by", "Lob\u{200B}by", "Lob\u{200C}by", "a\u{200D}b",
        "\u{FEFF}Lobby", "Lobby\u{2066}x\u{2069}", "Lob\u{AD}by", "Lobby\u{200E}", "\u{E0041}Lobby",
        // Format characters also glue emoji together: a family emoji is refused (its ZWJ).
        "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} Family",
    ])
    func formatCharacters(_ raw: String) {
        #expect(RoomRules.validateRoomName(raw, maxLength: max) == .failure(.roomNameInvalid))
        #expect(RoomRules.normalizedZone(raw, maxLength: max) == nil)
    }

    @Test func roomNamesKeepTheirLookAlikes() throws {
        // No skeleton for rooms: a Cyrillic о makes another room, as a capital letter does.
        let latin = try RoomRules.validateRoomName("Lobby", maxLength: max).get()
        let cyrillic = try RoomRules.validateRoomName("L\u{043E}bby", maxLength: max).get()
        #expect(latin != cyrillic)
        #expect(RoomRef(zone: "Chat", name: latin) != RoomRef(zone: "Chat", name: cyrillic))
    }

    @Test("anything else is a room name", arguments: [
        "Lobby", "The Lobby", "Salle d'attente", "<b>Chat</b> & co", "\u{1F389} Party", "Room #1!",
        "\u{5927}\u{5385}", "a  b",
    ])
    func acceptedRoomNames(_ raw: String) {
        #expect(RoomRules.validateRoomName(raw, maxLength: max) == .success(raw))
    }

    @Test func roomNameIsReturnedInNFC() throws {
        let name = try RoomRules.validateRoomName("Cafe\u{301}", maxLength: max).get()
        #expect(scalars(name) == scalars("Caf\u{E9}"))
    }

    @Test func roomNamesAreCaseSensitive() throws {
        let upper = try RoomRules.validateRoomName("Lobby", maxLength: max).get()
        let lower = try RoomRules.validateRoomName("lobby", maxLength: max).get()
        #expect(upper == "Lobby")
        #expect(lower == "lobby")
        #expect(RoomRef(zone: "Chat", name: upper) != RoomRef(zone: "Chat", name: lower))
        #expect(Set([RoomRef(zone: "Chat", name: "Lobby"), RoomRef(zone: "Chat", name: "lobby")]).count == 2)
    }

    @Test func roomIdentityIncludesTheZone() {
        #expect(RoomRef(zone: "Chat", name: "Lobby") != RoomRef(zone: "Games", name: "Lobby"))
        #expect(RoomRef(zone: "Chat", name: "Lobby") == RoomRef(zone: "Chat", name: "Lobby"))
        #expect(RoomRef(zone: "Chat", name: "Lobby").description == "Chat/Lobby")
    }

    // MARK: Zones

    @Test func zoneNamesFollowRoomNameRules() {
        #expect(RoomRules.normalizedZone("Chat", maxLength: max) == "Chat")
        #expect(RoomRules.normalizedZone("", maxLength: max) == nil)
        #expect(RoomRules.normalizedZone(" Chat", maxLength: max) == nil)
        #expect(RoomRules.normalizedZone("Ch\u{7}at", maxLength: max) == nil)
        #expect(RoomRules.normalizedZone(.repeating("z", 33), maxLength: max) == nil)
        #expect(RoomRules.normalizedZone(.repeating("z", 32), maxLength: max) == .repeating("z", 32))
        #expect(RoomRules.normalizedZone("Jeux", maxLength: max) != RoomRules.normalizedZone("jeux", maxLength: max))
    }

    @Test func zoneNameIsReturnedInNFC() throws {
        let zone = try #require(RoomRules.normalizedZone("E\u{301}t\u{E9}", maxLength: max))
        #expect(scalars(zone) == scalars("\u{C9}t\u{E9}"))
    }

    // MARK: Options and summaries

    @Test func emptyPasswordMeansNone() {
        #expect(RoomOptions(password: "").password == nil)
        #expect(RoomOptions(password: nil).password == nil)
        #expect(RoomOptions(password: "pw").password == "pw")
    }

    @Test("negative capacity means unlimited", arguments: [(-1, nil), (-5, nil), (0, 0), (10, 10)] as [(Int, Int?)])
    func capacity(_ pair: (Int, Int?)) {
        #expect(RoomOptions(capacity: pair.0).capacity == pair.1)
    }

    @Test func summaryTellsPasswordProtectionButNotThePassword() {
        let options = RoomOptions(password: "s3cret", hidden: true, updatable: false, capacity: 5, description: "<wddx/>")
        let summary = RoomSummary(name: "Vault", users: 2, options: options)
        #expect(summary == RoomSummary(name: "Vault", users: 2, capacity: 5, passwordProtected: true, hidden: true,
                                       updatable: false, description: "<wddx/>"))
        #expect(!String(describing: summary).contains("s3cret"))
        #expect(!RoomSummary(name: "Open", users: 0, options: RoomOptions()).passwordProtected)
    }

    @Test func zoneChangeKindsAreTheUpdateRoomListMinorActions() {
        #expect(ZoneChange.Kind.created.rawValue == "CreateRoom")
        #expect(ZoneChange.Kind.deleted.rawValue == "DeleteRoom")
        #expect(ZoneChange.Kind.changed.rawValue == "ChangeRoomDetails")
    }
}
