import ChatDomain
import Testing

/// The variable rules of PROTOCOL.md section 5: names, sizes, counts, locks.
@Suite struct VariableRulesTests {
    static let limits = ChatLimits()
    static let alice = SessionID(node: NodeID("n1.00000001"), number: 1)
    static let bob = SessionID(node: NodeID("n2.00000002"), number: 2)

    @Test(arguments: ["topic", "a", "Score_2", "my-var.x", "inner space", "\u{5C71}\u{7530}", String(repeating: "x", count: 32)])
    func validNames(_ name: String) {
        #expect(VariableRules.validateName(name, maxLength: 32) == .success(name))
    }

    @Test(arguments: ["", " ", "\t"])
    func missingNames(_ name: String) {
        #expect(VariableRules.validateName(name, maxLength: 32) == .failure(.variableNameRequired))
    }

    @Test(arguments: [String(repeating: "x", count: 33), " lead", "trail ", "a<b", "a\u{1F}b", "zero\u{200B}width", "new\nline",
                      "emoji\u{1F600}", String(repeating: "e\u{301}", count: 40), String(repeating: "\u{301}", count: 10_000)])
    func invalidNames(_ name: String) {
        #expect(VariableRules.validateName(name, maxLength: 32) == .failure(.variableNameInvalid))
    }

    @Test func dataUpToTheLimit() {
        #expect(!VariableRules.isTooLarge(String(repeating: "d", count: 4096), maxLength: 4096))
        #expect(VariableRules.isTooLarge(String(repeating: "d", count: 4097), maxLength: 4096))
        #expect(!VariableRules.isTooLarge(String(repeating: "\u{E9}", count: 4096), maxLength: 4096), "characters, not bytes")
        #expect(VariableRules.check(Variable(name: "v", data: String(repeating: "d", count: 4097)), limits: Self.limits) == .variableTooLarge)
        #expect(VariableRules.check(Variable(name: "", data: String(repeating: "d", count: 4097)), limits: Self.limits) == .variableNameRequired)
        #expect(VariableRules.check(Variable(name: "v", data: ""), limits: Self.limits) == nil)
    }

    @Test func locksLetTheCreatorAndModeratorsOnly() {
        let locked = RoomVariable(name: "t", data: "", persistent: false, locked: true, creator: Self.alice)
        #expect(VariableRules.mayChange(locked, by: Self.alice, moderator: false))
        #expect(!VariableRules.mayChange(locked, by: Self.bob, moderator: false))
        #expect(VariableRules.mayChange(locked, by: Self.bob, moderator: true))
        var open = locked
        open.locked = false
        #expect(VariableRules.mayChange(open, by: Self.bob, moderator: false))
        #expect(!VariableRules.mayLock(open, by: Self.bob, moderator: false), "only the creator changes the lock")
        #expect(VariableRules.mayLock(open, by: Self.alice, moderator: false))
        #expect(VariableRules.mayLock(open, by: Self.bob, moderator: true))
    }

    static func loggedIn(_ variables: [Variable] = [], limits: ChatLimits = limits) throws -> SessionState {
        var state = SessionState(limits: limits, defaultZone: "Chat")
        let (name, profile) = try state.checkLogin(name: "alice", password: "", variables: variables).get()
        state.loggedIn(as: name, profile: profile)
        return state
    }

    @Test func loginVariablesAreCheckedAndCount() throws {
        let state = SessionState(limits: Self.limits, defaultZone: "Chat")
        #expect(state.checkLoginVariables([Variable(name: "", data: "x")]) == .failure(.variableNameRequired))
        #expect(state.checkLoginVariables([Variable(name: "a b ", data: "x")]) == .failure(.variableNameInvalid))
        #expect(state.checkLoginVariables([Variable(name: "a", data: String(repeating: "x", count: 4097))]) == .failure(.variableTooLarge))
        let many = (0..<33).map { Variable(name: "v\($0)", data: "") }
        #expect(state.checkLoginVariables(many) == .failure(.tooManyVariables))
        #expect(state.checkLoginVariables(Array(many.prefix(32))) == .success(Array(many.prefix(32))))
        #expect(state.checkLoginVariables([Variable(name: "a", data: "1"), Variable(name: "b", data: "2"), Variable(name: "a", data: "3")])
                == .success([Variable(name: "a", data: "3"), Variable(name: "b", data: "2")]), "a name given twice keeps its place")
        if case .success = state.checkLogin(name: "alice", password: "", variables: many) { Issue.record("33 login variables accepted") }
    }

    @Test func userVariablesCreateUpdateAndDelete() throws {
        var state = try Self.loggedIn([Variable(name: "mood", data: "calm")])
        let update = try state.checkSetUserVariable(name: "mood", data: "glad").get()
        #expect(update.kind == .update && update.profile.variables == [Variable(name: "mood", data: "glad")])
        state.userVariablesChanged(update)
        let create = try state.checkSetUserVariable(name: "avatar", data: "cat.png").get()
        #expect(create.kind == .create)
        #expect(create.profile.variables == [Variable(name: "mood", data: "glad"), Variable(name: "avatar", data: "cat.png")])
        #expect(state.profile?.variables == [Variable(name: "mood", data: "glad")], "nothing changes before the cluster stored it")
        state.userVariablesChanged(create)
        let delete = try state.checkDeleteUserVariable(name: "mood").get()
        #expect(delete.kind == .delete && delete.variable == Variable(name: "mood", data: "glad"))
        #expect(delete.profile.variables == [Variable(name: "avatar", data: "cat.png")])
        state.userVariablesChanged(delete)
        #expect(state.checkDeleteUserVariable(name: "mood") == .failure(.variableDoesNotExist))
        #expect(state.checkDeleteUserVariable(name: "") == .failure(.variableNameRequired))
        #expect(state.checkSetUserVariable(name: "bad<", data: "") == .failure(.variableNameInvalid))
        #expect(state.checkSetUserVariable(name: "big", data: String(repeating: "x", count: 4097)) == .failure(.variableTooLarge))
    }

    @Test func userVariablesStopAtTheLimitLoginOnesIncluded() throws {
        var limits = Self.limits
        limits.maxUserVariables = 2
        let state = try Self.loggedIn([Variable(name: "a", data: ""), Variable(name: "b", data: "")], limits: limits)
        #expect(state.checkSetUserVariable(name: "c", data: "") == .failure(.tooManyVariables))
        #expect((try? state.checkSetUserVariable(name: "a", data: "x").get())?.kind == .update, "an update is no new variable")
    }

    @Test func userVariablesNeedALogin() {
        let state = SessionState(limits: Self.limits, defaultZone: "Chat")
        #expect(state.checkSetUserVariable(name: "a", data: "") == .failure(.notLoggedIn))
        #expect(state.checkDeleteUserVariable(name: "a") == .failure(.notLoggedIn))
        #expect(state.checkRoomVariable(name: "a", data: "") == .failure(.notLoggedIn))
    }

    @Test func initialRoomVariablesAreCheckedAndCount() {
        var limits = Self.limits
        limits.maxRoomVariables = 2
        let state = SessionState(limits: limits, defaultZone: "Chat")
        func v(_ name: String, _ data: String = "", persistent: Bool = false) -> RoomVariableChange {
            RoomVariableChange(kind: .update, name: name, data: data, persistent: persistent, locked: false)
        }
        #expect(state.checkInitialRoomVariables([v("a", "1"), v("b"), v("a", "2", persistent: true)])
                == .success([RoomVariableChange(kind: .create, name: "a", data: "2", persistent: true, locked: false),
                             RoomVariableChange(kind: .create, name: "b", data: "", persistent: false, locked: false)]))
        #expect(state.checkInitialRoomVariables([v("a"), v("b"), v("c")]) == .failure(.tooManyVariables))
        #expect(state.checkInitialRoomVariables([v("")]) == .failure(.variableNameRequired))
        #expect(state.checkInitialRoomVariables([v("x<")]) == .failure(.variableNameInvalid))
        #expect(state.checkInitialRoomVariables([v("x", String(repeating: "d", count: 4097))]) == .failure(.variableTooLarge))
    }

    @Test func roomVariablesNeedARoomAndValidNameAndData() throws {
        var state = try Self.loggedIn()
        #expect(state.checkRoomVariable(name: "topic", data: "x") == .failure(.notInRoom))
        let room = RoomRef(zone: "Chat", name: "Arena")
        state.joined(room)
        #expect(state.checkRoomVariable(name: "topic", data: "x") == .success(room))
        #expect(state.checkRoomVariable(name: "topic", data: nil) == .success(room))
        #expect(state.checkRoomVariable(name: " ", data: "x") == .failure(.variableNameRequired))
        #expect(state.checkRoomVariable(name: String(repeating: "n", count: 33), data: "x") == .failure(.variableNameInvalid))
        #expect(state.checkRoomVariable(name: "topic", data: String(repeating: "x", count: 4097)) == .failure(.variableTooLarge))
    }
}
