import ChatDomain
import Testing

/// PROTOCOL.md section 5, ChangeRoomDetails, as rules: what each MinorAction asks for, who
/// may change a room (its creator while it is updatable, moderators always), what a change
/// does to the room's options and how the zone hears of it.
@Suite struct RoomDetailChangeTests {
    static func parse(_ minorAction: String, description: String = "", capacity: String = "", hidden: String = "",
                      isProtected: String = "", password: String = "", updatable: String = "") -> RoomDetailChange? {
        RoomDetailChange.parse(minorAction: minorAction, description: description, capacity: capacity, hidden: hidden,
                               isProtected: isProtected, password: password, updatable: updatable)
    }

    @Test func eachMinorActionReadsItsOwnElementInAnyLetterCase() {
        #expect(Self.parse("ChangeDescription", description: " <b>Hi</b> ", capacity: "5") == .description(" <b>Hi</b> "))
        #expect(Self.parse("changecapacity", capacity: " 7 ") == .capacity(7))
        #expect(Self.parse("ChangeCapacity", capacity: "0") == .capacity(0))
        #expect(Self.parse("ChangeCapacity", capacity: "-1") == .capacity(nil))
        #expect(Self.parse("ChangeCapacity", capacity: "-5") == .capacity(nil))
        #expect(Self.parse("ChangeCapacity", capacity: "many") == .capacity(nil), "as in CreateRoom: unreadable is unlimited")
        #expect(Self.parse("CHANGEVISIBILITY", hidden: "TRUE") == .hidden(true))
        #expect(Self.parse("ChangeVisibility", hidden: "false") == .hidden(false))
        #expect(Self.parse("ChangeVisibility", hidden: "yes") == .hidden(false))
        #expect(Self.parse("ChangePasswordProtected", isProtected: "true", password: "s3cret") == .password("s3cret"))
        #expect(Self.parse("ChangePasswordProtected", isProtected: "true", password: " p w ") == .password(" p w "), "kept as given")
        #expect(Self.parse("ChangePasswordProtected", isProtected: "false", password: "s3cret") == .password(nil))
        #expect(Self.parse("ChangePasswordProtected", isProtected: "true", password: "") == .password(nil),
                "an empty password is none, as in CreateRoom")
        #expect(Self.parse("ChangeUpdatable", updatable: "false") == .updatable(false))
        #expect(Self.parse("ChangeUpdatable", updatable: "True") == .updatable(true))
        for unknown in ["", "ChangeName", "Kick", "ChangeDescriptions"] {
            #expect(Self.parse(unknown, description: "x") == nil, "\(unknown)")
        }
    }

    @Test func theCreatorMayChangeAnUpdatableRoomAndModeratorsAnyRoom() {
        #expect(RoomDetailChange.mayChange(isCreator: true, isModerator: false, updatable: true))
        #expect(!RoomDetailChange.mayChange(isCreator: true, isModerator: false, updatable: false), "a room that is not updatable")
        #expect(!RoomDetailChange.mayChange(isCreator: false, isModerator: false, updatable: true))
        #expect(RoomDetailChange.mayChange(isCreator: false, isModerator: true, updatable: true))
        #expect(RoomDetailChange.mayChange(isCreator: false, isModerator: true, updatable: false))
    }

    @Test func aChangeChangesOneOptionAndNothingElse() {
        let options = RoomOptions(password: "old", hidden: false, updatable: true, capacity: 10, description: "D", permanent: true)
        var expected = options
        expected.description = "new"
        #expect(RoomDetailChange.description("new").applied(to: options) == expected)
        expected = options
        expected.capacity = nil
        #expect(RoomDetailChange.capacity(nil).applied(to: options) == expected)
        expected.capacity = 2
        #expect(RoomDetailChange.capacity(2).applied(to: options) == expected)
        expected = options
        expected.hidden = true
        #expect(RoomDetailChange.hidden(true).applied(to: options) == expected)
        expected = options
        expected.password = "new"
        #expect(RoomDetailChange.password("new").applied(to: options) == expected)
        expected.password = nil
        #expect(RoomDetailChange.password(nil).applied(to: options) == expected)
        #expect(RoomDetailChange.password("").applied(to: options) == expected)
        expected = options
        expected.updatable = false
        #expect(RoomDetailChange.updatable(false).applied(to: options) == expected)
    }

    @Test func aRoomBecomingHiddenIsDeletedFromListsAndOneBecomingVisibleIsCreated() {
        #expect(RoomDetailChange.announcement(wasHidden: false, isHidden: false) == .changed)
        #expect(RoomDetailChange.announcement(wasHidden: false, isHidden: true) == .deleted)
        #expect(RoomDetailChange.announcement(wasHidden: true, isHidden: false) == .created)
        #expect(RoomDetailChange.announcement(wasHidden: true, isHidden: true) == nil, "a hidden room is never listed")
    }

    @Test func aSessionChangesOnlyItsCurrentRoomAndDescriptionsKeepTheirLimit() throws {
        var limits = ChatLimits()
        limits.maxDescriptionLength = 8
        var state = SessionState(limits: limits, defaultZone: "Chat")
        func check(_ minorAction: String, description: String = "") -> Result<RoomDetailChange, Reason>? {
            state.checkChangeRoomDetails(minorAction: minorAction, description: description, capacity: "", hidden: "",
                                         isProtected: "", password: "", updatable: "")
        }
        #expect(check("ChangeDescription", description: "x").flatMap(refusal) == .notInRoom, "not logged in")
        let (name, profile) = try state.checkLogin(name: "alice", password: "", variables: []).get()
        state.loggedIn(as: name, profile: profile)
        #expect(check("ChangeDescription", description: "x").flatMap(refusal) == .notInRoom)
        #expect(check("Nonsense") == nil, "an unknown MinorAction is the caller's to answer")
        state.joined(RoomRef(zone: "Chat", name: "Fun"))
        #expect(try check("ChangeDescription", description: "12345678")?.get() == .description("12345678"))
        #expect(check("ChangeDescription", description: "123456789").flatMap(refusal) == .descriptionTooLong)
        #expect(try check("ChangeDescription", description: "ééééééé")?.get() == .description("ééééééé"),
                "characters, not bytes")
        state.leftRoom()
        #expect(check("ChangeCapacity").flatMap(refusal) == .notInRoom)
    }
}
