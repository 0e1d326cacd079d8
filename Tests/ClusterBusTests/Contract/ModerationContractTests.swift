import ChatDomain
import ClusterBus
import NIOCore
import Testing

/// What every `ClusterBus` promises for moderation (PROTOCOL.md section 5), run against
/// `InProcessBus` and `RedisClusterBus`: kicks reach the target's session as a `kick`
/// event, bans are keyed like names, checked at login, expire, and are lifted by unban;
/// address bans come with a ban of an online user.
@Suite struct ModerationContractTests {
    static let notice = ByteBuffer(string: "<notice/>")

    static func kick(_ name: String) throws -> ModerationRequest {
        ModerationRequest(action: .kick, targetKey: try ContractBus.key(name), notice: notice)
    }

    static func ban(_ name: String, milliseconds: Int64? = nil, address: Bool = false) throws -> ModerationRequest {
        ModerationRequest(action: .ban(milliseconds: milliseconds, address: address), targetKey: try ContractBus.key(name), notice: notice)
    }

    static func unban(_ name: String) throws -> ModerationRequest {
        ModerationRequest(action: .unban, targetKey: try ContractBus.key(name), notice: ByteBuffer())
    }

    /// Logs `name` in from the client address `address`.
    static func login(_ f: ContractBus, _ name: String, address: String) async throws -> (SessionID, LoginOutcome) {
        let session = f.newSession()
        var request = try ContractBus.request(name, session: session)
        request.address = address
        return (session, try await f.bus.login(request))
    }

    @Test(arguments: BusKind.allCases)
    func aKickReachesTheOnlineTargetOnly(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let bob = try await f.loggedIn("bob")
            #expect(try await f.bus.moderate(Self.kick("BOB")) == .done)
            await f.expectEvents(["kick \(bob) <notice/>"])
            #expect(try await f.bus.moderate(Self.kick("nobody")) == .userNotFound)
            await f.bus.logout(session: bob)
            #expect(try await f.bus.moderate(Self.kick("bob")) == .userNotFound)
            await f.expectNoEvents()
            #expect(try await f.login("bob").1 != .nameBanned, "a kick bans nothing")
        }
    }

    @Test(arguments: BusKind.allCases)
    func aBanIsKeyedLikeNamesHoldsAtLoginAndIsLiftedByUnban(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let bob = try await f.loggedIn("bob")
            #expect(try await f.bus.moderate(Self.ban("Bob")) == .done)
            await f.expectEvents(["kick \(bob) <notice/>"])
            await f.bus.logout(session: bob)
            for spelling in ["bob", "BOB", "b\u{043E}b"] {
                #expect(try await f.login(spelling).1 == .nameBanned, "\(spelling)")
            }
            #expect(try await f.login("bobby").1 != .nameBanned, "one name only")
            // A name nobody has is banned all the same.
            #expect(try await f.bus.moderate(Self.ban("carol")) == .done)
            await f.expectNoEvents()
            #expect(try await f.login("Carol").1 == .nameBanned)
            #expect(try await f.bus.moderate(Self.unban("BOB")) == .done)
            #expect(try await f.bus.moderate(Self.unban("bob")) == .userNotFound, "nothing left to lift")
            #expect(try await f.bus.moderate(Self.unban("dave")) == .userNotFound)
            guard case .accepted = try await f.login("bob").1 else { throw BusTestFailure("bob is still banned") }
            #expect(try await f.login("carol").1 == .nameBanned, "other bans stay")
            #expect(try await f.bus.loggedInCount() == 2, "bobby and bob")
        }
    }

    @Test(arguments: BusKind.allCases)
    func aBanExpires(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            #expect(try await f.bus.moderate(Self.ban("bob", milliseconds: 400)) == .done)
            #expect(try await f.login("bob").1 == .nameBanned)
            try await Task.sleep(for: .milliseconds(600))
            guard case .accepted = try await f.login("bob").1 else { throw BusTestFailure("the ban did not expire") }
            // A ban again replaces the old one's expiry: this one lasts until unbanned.
            #expect(try await f.bus.moderate(Self.ban("carol", milliseconds: 400)) == .done)
            #expect(try await f.bus.moderate(Self.ban("carol")) == .done)
            try await Task.sleep(for: .milliseconds(600))
            #expect(try await f.login("carol").1 == .nameBanned)
        }
    }

    @Test(arguments: BusKind.allCases)
    func anAddressBanComesWithTheBanOfAnOnlineUserAndGoesWithItsUnban(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let (bob, bobLogin) = try await Self.login(f, "bob", address: "203.0.113.7")
            let (_, carolLogin) = try await Self.login(f, "carol", address: "198.51.100.1")
            guard case .accepted = bobLogin, case .accepted = carolLogin else { throw BusTestFailure("logins refused") }
            #expect(try await !f.bus.isAddressBanned("203.0.113.7"))
            #expect(try await f.bus.moderate(Self.ban("carol")) == .done, "a ban without Address")
            #expect(try await !f.bus.isAddressBanned("198.51.100.1"))
            #expect(try await f.bus.moderate(Self.ban("bob", address: true)) == .done)
            #expect(try await f.bus.isAddressBanned("203.0.113.7"))
            #expect(try await !f.bus.isAddressBanned("203.0.113.8"))
            await f.bus.logout(session: bob)
            #expect(try await f.bus.moderate(Self.ban("dave", address: true)) == .done, "offline: no address known")
            #expect(try await f.bus.moderate(Self.unban("bob")) == .done)
            #expect(try await !f.bus.isAddressBanned("203.0.113.7"))
            await f.settle()
        }
    }

    @Test(arguments: BusKind.allCases)
    func anAddressBanExpiresWithItsNameBan(kind: BusKind) async throws {
        try await ContractBus.with(kind) { (f) async throws in
            let (_, outcome) = try await Self.login(f, "bob", address: "203.0.113.9")
            guard case .accepted = outcome else { throw BusTestFailure("bob's login refused") }
            #expect(try await f.bus.moderate(Self.ban("bob", milliseconds: 400, address: true)) == .done)
            #expect(try await f.bus.isAddressBanned("203.0.113.9"))
            try await Task.sleep(for: .milliseconds(600))
            #expect(try await !f.bus.isAddressBanned("203.0.113.9"))
            await f.settle()
        }
    }
}
