import ChatDomain
import ClusterBus
import Testing

/// What a test node does with its bus as a node would: new sessions, logins and joins,
/// the `...ed` forms requiring success. Shared by `BusNode` (the Redis cluster tests) and
/// `ContractBus` (the contract suite over both buses).
protocol BusSessions: Sendable {
    /// The bus the sessions use.
    var sessionBus: any ClusterBus { get }
    /// How failures name this node.
    var label: String { get }
    /// A new session id of this node.
    func newSession() -> SessionID
}

extension BusSessions {
    /// The login request a client named `name` would make.
    static func request(_ name: String, session: SessionID, zone: String = "Chat",
                        variables: [Variable] = []) throws -> LoginRequest {
        let user = try UserName.validate(name, maxLength: 20).get()
        return LoginRequest(session: session, name: user, profile: UserProfile(name: user.display, variables: variables), zone: zone)
    }

    /// Logs `name` in with a new session of this node.
    func login(_ name: String, zone: String = "Chat", variables: [Variable] = []) async throws -> (SessionID, LoginOutcome) {
        let session = newSession()
        return (session, try await sessionBus.login(Self.request(name, session: session, zone: zone, variables: variables)))
    }

    /// Logs `name` in and requires acceptance.
    func loggedIn(_ name: String, zone: String = "Chat", sourceLocation: SourceLocation = #_sourceLocation) async throws -> SessionID {
        let (session, outcome) = try await login(name, zone: zone)
        guard case .accepted = outcome else {
            throw BusTestFailure("\(label): login of \(name) was refused: \(outcome)", sourceLocation)
        }
        return session
    }

    func join(_ session: SessionID, _ room: RoomRef, password: String? = nil) async throws -> JoinOutcome {
        try await sessionBus.join(JoinRequest(session: session, room: room, password: password, create: nil))
    }

    func create(_ session: SessionID, _ room: RoomRef, _ options: RoomOptions = RoomOptions()) async throws -> JoinOutcome {
        try await sessionBus.join(JoinRequest(session: session, room: room, password: nil, create: options))
    }

    /// Joins (or creates) and requires success; returns the room joined.
    func requireJoined(_ session: SessionID, _ room: RoomRef, password: String? = nil, create options: RoomOptions? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) async throws -> JoinedRoom {
        let outcome = try await sessionBus.join(JoinRequest(session: session, room: room, password: password, create: options))
        guard case .joined(let joined) = outcome else {
            throw BusTestFailure("\(label): \(options == nil ? "join" : "create") of \(room) by \(session) failed: \(outcome)", sourceLocation)
        }
        return joined
    }
}
