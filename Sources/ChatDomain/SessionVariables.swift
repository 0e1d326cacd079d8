/// Room and user variable requests of a session (PROTOCOL.md section 5), checked before the
/// cluster is asked: the session's own user variables are its own, so their changes are
/// decided here; room variables are shared, so lock and existence are decided by the cluster.
extension SessionState {
    /// A user variable change the cluster is asked to store: the user's new profile and what
    /// every member is told.
    public struct UserVariableChange: Sendable, Equatable {
        public enum Kind: String, Sendable {
            case create = "Create"
            case update = "Update"
            case delete = "Delete"
        }

        public var kind: Kind
        public var variable: Variable
        public var profile: UserProfile
    }

    /// The variables given at Login, checked like later changes: every name and data valid,
    /// at most `maxUserVariables` distinct names. A name given twice keeps its first place
    /// and its last data.
    public func checkLoginVariables(_ variables: [Variable]) -> Result<[Variable], Reason> {
        var checked: [Variable] = []
        for variable in variables {
            if let reason = VariableRules.check(variable, limits: limits) { return .failure(reason) }
            if let index = checked.firstIndex(where: { $0.name == variable.name }) {
                checked[index].data = variable.data
            } else {
                checked.append(variable)
                if checked.count > limits.maxUserVariables { return .failure(.tooManyVariables) }
            }
        }
        return .success(checked)
    }

    /// `UpdateUserVariable` (Create or Update: either acts as the other): the change, or why not.
    public func checkSetUserVariable(name: String, data: String) -> Result<UserVariableChange, Reason> {
        guard isLoggedIn, var profile else { return .failure(.notLoggedIn) }
        let variable = Variable(name: name, data: data)
        if let reason = VariableRules.check(variable, limits: limits) { return .failure(reason) }
        if let index = profile.variables.firstIndex(where: { $0.name == name }) {
            profile.variables[index].data = data
            return .success(UserVariableChange(kind: .update, variable: variable, profile: profile))
        }
        if profile.variables.count >= limits.maxUserVariables { return .failure(.tooManyVariables) }
        profile.variables.append(variable)
        return .success(UserVariableChange(kind: .create, variable: variable, profile: profile))
    }

    /// `DeleteUserVariable`: the change, or why not (`Variable does not exist`).
    public func checkDeleteUserVariable(name: String) -> Result<UserVariableChange, Reason> {
        guard isLoggedIn, var profile else { return .failure(.notLoggedIn) }
        if case .failure(let reason) = VariableRules.validateName(name, maxLength: limits.maxVariableNameLength) {
            return .failure(reason)
        }
        guard let index = profile.variables.firstIndex(where: { $0.name == name }) else { return .failure(.variableDoesNotExist) }
        let removed = profile.variables.remove(at: index)
        return .success(UserVariableChange(kind: .delete, variable: removed, profile: profile))
    }

    /// The cluster stored the user's changed variables.
    public mutating func userVariablesChanged(_ change: UserVariableChange) {
        profile = change.profile
    }

    /// The initial variables of a `CreateRoom`, checked like `CreateRoomVariable`s: every name
    /// and data valid, at most `maxRoomVariables` distinct names. A name given twice keeps its
    /// first place and its last data and flags.
    public func checkInitialRoomVariables(_ variables: [RoomVariableChange]) -> Result<[RoomVariableChange], Reason> {
        var checked: [RoomVariableChange] = []
        for variable in variables {
            if let reason = VariableRules.check(Variable(name: variable.name, data: variable.data), limits: limits) {
                return .failure(reason)
            }
            var created = variable
            created.kind = .create
            if let index = checked.firstIndex(where: { $0.name == variable.name }) {
                checked[index] = created
            } else {
                checked.append(created)
                if checked.count > limits.maxRoomVariables { return .failure(.tooManyVariables) }
            }
        }
        return .success(checked)
    }

    /// A room variable request (`CreateRoomVariable`, `UpdateRoomVariable`, or with `data`
    /// nil `DeleteRoomVariable`): the room it acts on, or why not. Whether it exists, is
    /// locked, or fits in the room is the cluster's decision.
    public func checkRoomVariable(name: String, data: String?) -> Result<RoomRef, Reason> {
        guard isLoggedIn else { return .failure(.notLoggedIn) }
        guard let room else { return .failure(.notInRoom) }
        if case .failure(let reason) = VariableRules.validateName(name, maxLength: limits.maxVariableNameLength) {
            return .failure(reason)
        }
        if let data, VariableRules.isTooLarge(data, maxLength: limits.maxVariableDataLength) { return .failure(.variableTooLarge) }
        return .success(room)
    }
}
