import ChatDomain
import Testing

/// The profile the cluster stores as one string so any node can list a member it never met.
@Suite struct UserProfileTests {
    static let profiles: [UserProfile] = [
        UserProfile(name: "bob"),
        UserProfile(name: "Mod", moderator: true),
        UserProfile(name: "Z\u{E9}lie", variables: [Variable(name: "color", data: "blue")]),
        UserProfile(name: "\u{5C71}\u{7530}", variables: [
            Variable(name: "\u{8DA3}\u{5473}", data: "\u{1F3B8} guitar \u{1F44D}\u{1F3FD}"),
            Variable(name: "motto", data: "\u{0416}\u{0438}\u{0437}\u{043D}\u{044C} e\u{301}"),
        ]),
        UserProfile(name: "ann", variables: [Variable(name: "empty", data: "")]),
        UserProfile(name: "ann", variables: [Variable(name: "", data: "")]),
        UserProfile(name: "ann", variables: [Variable(name: "", data: "x")]),
        UserProfile(name: "eve", moderator: true, variables: [
            Variable(name: "wddx", data: "<wddxPacket version='1.0'><data><string>a&amp;b</string></data></wddxPacket>"),
            Variable(name: "lines", data: "one\ntwo\r\nthree\ttab"),
            Variable(name: "dup", data: "1"),
            Variable(name: "dup", data: "2"),
        ]),
        UserProfile(name: "", variables: []),
        UserProfile(name: "combining", variables: [Variable(name: "\u{301}start", data: "\u{301}\u{302}")]),
    ]

    @Test("serialized round trip", arguments: profiles)
    func roundTrip(_ profile: UserProfile) throws {
        let decoded = try #require(UserProfile(serialized: profile.serialized))
        #expect(decoded == profile)
        #expect(decoded.variables.map(\.name) == profile.variables.map(\.name))
        #expect(decoded.variables.map { scalars($0.data) } == profile.variables.map { scalars($0.data) })
        #expect(scalars(decoded.name) == scalars(profile.name))
    }

    @Test func noVariablesDiffersFromOneEmptyVariable() throws {
        let none = UserProfile(name: "ann")
        let oneEmpty = UserProfile(name: "ann", variables: [Variable(name: "", data: "")])
        #expect(none.serialized != oneEmpty.serialized)
        #expect(try #require(UserProfile(serialized: none.serialized)).variables.isEmpty)
        #expect(try #require(UserProfile(serialized: oneEmpty.serialized)).variables.count == 1)
    }

    @Test func moderatorFlagSurvives() throws {
        let moderator = try #require(UserProfile(serialized: UserProfile(name: "m", moderator: true).serialized))
        let member = try #require(UserProfile(serialized: UserProfile(name: "m").serialized))
        #expect(moderator.moderator)
        #expect(!member.moderator)
    }

    @Test("corrupted strings are refused", arguments: [
        "", "bob", "bob\u{1F}", "bob\u{1F}2", "bob\u{1F}yes", "bob\u{1F}0\u{1F}1", "bob\u{1F}0\u{1E}novalue",
        "\u{1E}", "\u{1E}a\u{1F}b", "bob\u{1E}a\u{1F}b\u{1F}0",
    ])
    func corrupted(_ text: String) {
        #expect(UserProfile(serialized: text) == nil)
    }

    @Test func truncatedSerializationIsRefused() {
        let profile = UserProfile(name: "bob", variables: [Variable(name: "a", data: "1"), Variable(name: "b", data: "2")])
        let text = profile.serialized
        // Cut in the middle of the second variable's name/data separator: no longer a profile.
        let cut = String(text[..<text.lastIndex(of: "\u{1F}")!])
        #expect(UserProfile(serialized: cut) == nil)
    }
}
