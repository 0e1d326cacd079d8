import ChatDomain
import Testing

/// PROTOCOL.md section 5, Moderation, as a session's rules: AdminLogin, reserved moderator
/// names, who may send a ModeratorCommand and what it means.
@Suite struct ModerationTests {
    static func limits() throws -> ChatLimits {
        var limits = ChatLimits()
        limits.moderators = try ModeratorsFile.parse("Mod:s3cret\n", maxNameLength: 20).get()
        return limits
    }

    static func moderator() throws -> SessionState {
        var state = SessionState(limits: try limits(), defaultZone: "Chat")
        let (name, profile) = try state.checkAdminLogin(name: "mod", password: "s3cret").get()
        state.loggedIn(as: name, profile: profile)
        return state
    }

    @Test func adminLoginNeedsTheModeratorsPasswordAndGivesAModeratorProfile() throws {
        let state = SessionState(limits: try Self.limits(), defaultZone: "Chat")
        let (name, profile) = try state.checkAdminLogin(name: "MOD", password: "s3cret").get()
        #expect(name.display == "MOD")
        #expect(profile.moderator)
        #expect(profile.variables.isEmpty)
        for (name, password) in [("mod", "S3CRET"), ("mod", ""), ("alice", "s3cret"), ("", "s3cret"),
                                 ("m\u{043E}d", "s3cret"), (String(repeating: "m", count: 40), "s3cret")] {
            #expect(refusal(state.checkAdminLogin(name: name, password: password)) == .incorrectPassword, "\(name):\(password)")
        }
        var loggedIn = try Self.moderator()
        #expect(loggedIn.isModerator)
        #expect(refusal(loggedIn.checkAdminLogin(name: "mod", password: "s3cret")) == .alreadyLoggedIn)
        loggedIn = SessionState(limits: ChatLimits(), defaultZone: "Chat")
        #expect(refusal(loggedIn.checkAdminLogin(name: "mod", password: "s3cret")) == .incorrectPassword, "no moderators file")
    }

    @Test func aModeratorsNameAndItsLookAlikesAreNotFreeForPlainLogins() throws {
        let state = SessionState(limits: try Self.limits(), defaultZone: "Chat")
        for name in ["mod", "Mod", "MOD", "m\u{043E}d", "M\u{039F}D"] {
            #expect(refusal(state.checkLogin(name: name, password: "s3cret", variables: [])) == .nameInUse,
                    "\(name.unicodeScalars.map { String($0.value, radix: 16) })")
        }
        #expect(refusal(state.checkLogin(name: "moderator", password: "", variables: [])) == nil)
        let (_, profile) = try state.checkLogin(name: "alice", password: "", variables: []).get()
        #expect(!profile.moderator)
    }

    @Test func onlyModeratorsMayModerate() throws {
        let plain = SessionState(limits: try Self.limits(), defaultZone: "Chat")
        #expect(plain.checkModeration(minorAction: "Kick", userName: "bob", reason: "", expires: "", address: false)
                .map(refusal) == .notAllowed, "not logged in")
        var user = plain
        let (name, profile) = try user.checkLogin(name: "bob", password: "", variables: []).get()
        user.loggedIn(as: name, profile: profile)
        for minor in ["Kick", "Ban", "Unban"] {
            #expect(user.checkModeration(minorAction: minor, userName: "alice", reason: "", expires: "", address: false)
                    .map(refusal) == .notAllowed, "\(minor)")
        }
        #expect(user.checkModeration(minorAction: "Mute", userName: "alice", reason: "", expires: "", address: false) == nil,
                "an unknown minor action is the caller's to answer")
    }

    @Test func aCommandNamesItsTargetByKeyAndBansForTheGivenMinutes() throws {
        let state = try Self.moderator()
        let kick = try #require(state.checkModeration(minorAction: " kick ", userName: " B\u{D3}B ", reason: "spam <b>!</b>",
                                                      expires: "", address: false)).get()
        #expect(kick == Moderation(action: .kick, targetName: "B\u{D3}B", targetKey: UserName.key(for: "b\u{F3}b"),
                                   reason: "spam <b>!</b>"))
        let ban = try #require(state.checkModeration(minorAction: "BAN", userName: "bob", reason: "r", expires: "15", address: true)).get()
        #expect(ban.action == .ban(minutes: 15, address: true))
        #expect(ban.expiresText == "15")
        for forever in ["-1", "", "0", "-7", "soon", "1.5"] {
            let until = try #require(state.checkModeration(minorAction: "Ban", userName: "bob", reason: "", expires: forever, address: false)).get()
            #expect(until.action == .ban(minutes: nil, address: false), "\(forever)")
            #expect(until.expiresText == "-1")
        }
        let unban = try #require(state.checkModeration(minorAction: "Unban", userName: "bob", reason: "", expires: "", address: false)).get()
        #expect(unban.action == .unban)
        for nobody in ["", "   ", String(repeating: "x", count: 21), "a\u{200D}b"] {
            #expect(state.checkModeration(minorAction: "Kick", userName: nobody, reason: "", expires: "", address: false)
                    .map(refusal) == .userNotFound, "\(nobody)")
        }
    }

    @Test func banDurations() {
        #expect(Moderation.minutes(fromExpires: " 30 ") == 30)
        #expect(Moderation.minutes(fromExpires: "99999999999") == Moderation.maxMinutes)
        #expect(Moderation.minutes(fromExpires: "999999999999999999999999") == nil, "unreadable: until Unban")
        #expect(Moderation.banMilliseconds(minutes: nil, minuteMilliseconds: 60_000) == nil)
        #expect(Moderation.banMilliseconds(minutes: 2, minuteMilliseconds: 60_000) == 120_000)
        #expect(Moderation.banMilliseconds(minutes: 2, minuteMilliseconds: 500) == 1_000)
        #expect(Moderation.banMilliseconds(minutes: Moderation.maxMinutes, minuteMilliseconds: .max) == Int64.max / 2)
    }
}
