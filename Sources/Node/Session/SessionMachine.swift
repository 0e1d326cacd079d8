import ChatDomain
import ClusterBus
import Foundation
import NIOCore
import Wire

/// The rules of one client session (PROTOCOL.md sections 3, 4, 6 and 7), free of any
/// transport, in the style of postgres-nio's `ConnectionStateMachine`: every input (a
/// decoded request, a cluster answer, a cluster event, a timer or a transport event) goes
/// in, and what to do comes out as `SessionAction`s for the transport's handler to
/// perform: send this, ask the cluster that, wait, close. A TCP `SessionHandler` runs it
/// today; any other transport can run the same machine.
///
/// What it decides:
/// - **One request at a time, in arrival order.** While a cluster operation is in flight,
///   later requests wait in a bounded queue (`wantsInput` tells the transport to stop
///   reading when it is full).
/// - **Ordering of responses and pushes**: `RoomList` before `LoginResponse`; a join's
///   `CreateRoom` result, `RoomList` of a new zone, `UpdateRoomList CreateRoom`, then
///   `JoinRoom`, then the room's events since the join (held while the join is in flight).
/// - **A session that ends** (its connection closed) ends in the cluster only after the
///   operation in flight, so a login completing late cannot leave a ghost.
/// - **A client that closed its sending side** gets the answers to everything it sent,
///   then its connection closes.
/// - **Wrong passwords** are answered at once, then more and more slowly, and end the
///   session past the limit; **malformed frames** past the limit end it too.
struct SessionMachine {
    struct Configuration: Sendable {
        var limits = ChatLimits()
        var defaultZone = "Chat"
        var maxMalformedFrames = 10
        /// Room events held while a join is in flight, in bytes; past it, the session is a
        /// slow reader.
        var maxHeldBytes = 1 << 20
        var idleTimeoutSeconds: Int64 = 300
        var partialFrameTimeoutSeconds: Int64 = 30
        static let maxQueued = 64
    }

    /// A cluster operation and what the machine does with its answer.
    enum ClusterCall {
        case login(LoginRequest)
        case join(JoinRequest)
        case leave(SessionID)
        case loggedInCount
        case zoneListing(String)
        case sendPrivate(nameKeys: [String], message: ServerEvent)
        case isLockedOut(nameKey: String)
        case recordWrongPassword(nameKey: String)
        case isNameTaken(nameKey: String)
        case moderate(ModerationRequest)
        case changeRoomDetails(RoomDetailsRequest)
    }

    enum ClusterAnswer {
        case login(Result<LoginOutcome, ClusterError>)
        case join(Result<JoinOutcome, ClusterError>)
        case left(Result<Bool, ClusterError>)
        case count(Result<Int, ClusterError>)
        case listing(Result<ZoneListing, ClusterError>)
        case privateSent(Result<[Int], ClusterError>)
        case flag(Result<Bool, ClusterError>)
        case moderated(Result<ModerationOutcome, ClusterError>)
        case roomDetails(Result<RoomDetailsOutcome, ClusterError>)
    }

    enum Close: Equatable {
        /// Send what was written first (the last `Error`), then close.
        case afterWrites
        /// The client closed its side and has every answer: close now.
        case drained
    }

    enum Log: Equatable {
        case tooManyMalformedFrames
        case tooManyWrongPasswords
        case nameLockedOut
        case evicted(Reason)
        /// A moderator kicked or banned this session.
        case removedByModerator
        /// This moderator's command was carried out.
        case moderated(Moderation)
        case partialFrameTimedOut
        case idle
    }

    /// What one room event means for this session (the delivery path: no allocation).
    enum RoomEventDisposition: Equatable {
        case write
        /// Held until the join in flight is answered.
        case held
        case ignore
        /// Too much held: the session is a slow reader.
        case cutSlowReader
    }

    let id: SessionID
    let configuration: Configuration
    private(set) var state: SessionState
    /// The client's address (the real one behind a PROXY header), for address bans.
    var clientAddress = ""
    /// The session is over (its connection closed): nothing more is sent or asked.
    private(set) var ended = false
    /// The machine asked to close after its last writes: input is ignored.
    private(set) var closing = false
    private var queue = CircularBuffer<ClientRequest>()
    private var pending: Pending?
    private var clientDoneSending = false
    private var drainCloseRequested = false
    private var malformedFrames = 0
    /// A join in flight: room events that arrive for it before its response wait here.
    private var pendingJoin: (room: RoomRef, held: [ByteBuffer], bytes: Int)?
    /// The creator of a listed room sends its own `UpdateRoomList CreateRoom` in order
    /// (before `JoinRoom`), so the cluster's copy of that push is skipped once.
    private var suppressCreatedPush: RoomRef?

    /// What an operation in flight was for.
    private enum Pending {
        case count(action: String)
        case listing(action: String)
        case mixedScriptName
        case lockout(UserName, UserProfile?)
        case wrongPassword
        case claim(UserName, UserProfile)
        case join(RoomRef, creating: Bool)
        case leave
        case privateMessage([PrivateRecipient])
        case moderation(Moderation)
        case roomDetails
        /// A penalty delay; then `answer` goes out.
        case penalty(answer: ServerEvent)
    }

    init(id: SessionID, configuration: Configuration) {
        self.id = id
        self.configuration = configuration
        self.state = SessionState(limits: configuration.limits, defaultZone: configuration.defaultZone)
    }

    /// An operation (a cluster call or a penalty delay) is in flight.
    var busy: Bool { pending != nil }

    /// The transport may read more requests.
    var wantsInput: Bool { queue.count < Configuration.maxQueued }

    // MARK: Requests

    /// A decoded request.
    mutating func received(_ request: ClientRequest) -> [SessionAction] {
        guard !ended, !closing else { return [] }
        if busy {
            queue.append(request)
            return []
        }
        var actions: [SessionAction] = []
        handle(request, into: &actions)
        runQueued(into: &actions)
        return actions
    }

    /// A frame that is not a well-formed request.
    mutating func malformed() -> [SessionAction] {
        guard !ended, !closing else { return [] }
        malformedFrames += 1
        var actions: [SessionAction] = [.send(.error(.malformedMessage, action: ""))]
        if malformedFrames > configuration.maxMalformedFrames {
            actions.append(.log(.tooManyMalformedFrames))
            close(into: &actions)
        }
        return actions
    }

    /// A frame over the size limit: answered, then the connection closes.
    mutating func tooLarge() -> [SessionAction] {
        guard !ended, !closing else { return [] }
        var actions: [SessionAction] = [.send(.error(.messageTooLarge, action: ""))]
        close(into: &actions)
        return actions
    }

    // MARK: Transport and timer events

    /// The client closed its sending side.
    mutating func inputClosed() -> [SessionAction] {
        clientDoneSending = true
        var actions: [SessionAction] = []
        closeIfDrained(into: &actions)
        return actions
    }

    /// A frame was not completed in time.
    mutating func partialFrameTimedOut() -> [SessionAction] {
        guard !ended, !closing else { return [] }
        var actions: [SessionAction] = [
            .log(.partialFrameTimedOut),
            .send(.error(.malformedMessage, action: "",
                         detail: "A message must be completed within \(configuration.partialFrameTimeoutSeconds) seconds of its first byte.")),
        ]
        close(into: &actions)
        return actions
    }

    /// Nothing was received for the idle timeout.
    mutating func idle() -> [SessionAction] {
        guard !ended, !closing else { return [] }
        var actions: [SessionAction] = [
            .log(.idle),
            .send(.error(.idleTimeout, action: "",
                         detail: "Nothing was received for \(configuration.idleTimeoutSeconds) seconds; connect again to go on.")),
        ]
        close(into: &actions)
        return actions
    }

    /// The node is stopping.
    mutating func shuttingDown() -> [SessionAction] {
        guard !ended, !closing else { return [] }
        var actions: [SessionAction] = [
            .send(.error(.serverShuttingDown, action: "", detail: "This node is stopping; connect again to reach another.")),
        ]
        close(into: &actions)
        return actions
    }

    /// The cluster ended this session (e.g. its name was taken during an outage).
    mutating func evicted(_ reason: Reason) -> [SessionAction] {
        guard !ended, !closing else { return [] }
        var actions: [SessionAction] = [
            .log(.evicted(reason)),
            .send(.error(reason, action: "", detail: "This session was ended by the server.")),
        ]
        close(into: &actions)
        return actions
    }

    /// A moderator kicked or banned this session: its notice (`Kicked` or `Banned`), then
    /// the connection closes, and the user leaves as if it had closed.
    mutating func kicked(_ notice: ByteBuffer) -> [SessionAction] {
        guard !ended, !closing else { return [] }
        var actions: [SessionAction] = [.log(.removedByModerator), .sendBytes(notice)]
        close(into: &actions)
        return actions
    }

    /// The connection is gone. Returns whether to end the session in the cluster now (the
    /// zone to leave locally is `state.zone` when logged in); when an operation is in
    /// flight, its answer says so instead (`SessionAction.endInCluster`).
    mutating func closed() -> (endNow: Bool, loggedIn: Bool) {
        guard !ended else { return (false, false) }
        ended = true
        queue.removeAll()
        pendingJoin = nil
        return (!busy, state.isLoggedIn)
    }

    // MARK: Cluster answers

    /// The answer to the cluster call in flight.
    mutating func answered(_ answer: ClusterAnswer) -> [SessionAction] {
        guard let pending else { return [] }
        self.pending = nil
        var actions: [SessionAction] = []
        apply(answer, to: pending, into: &actions)
        finishOperation(into: &actions)
        return actions
    }

    /// A penalty delay is over.
    mutating func waited() -> [SessionAction] {
        guard case .penalty(let answer) = pending else { return [] }
        pending = nil
        var actions: [SessionAction] = []
        if !ended { actions.append(.send(answer)) }
        finishOperation(into: &actions)
        return actions
    }

    /// A public message was refused by the cluster after it was handed on.
    func publishRefused() -> [SessionAction] {
        ended ? [] : [.send(.error(.clusterUnavailable, action: "SendPublicMessage"))]
    }

    // MARK: Cluster events (the delivery path)

    /// A room event, already encoded.
    mutating func roomEvent(_ bytes: ByteBuffer, in room: RoomRef) -> RoomEventDisposition {
        if var join = pendingJoin, join.room == room {
            join.held.append(bytes)
            join.bytes += bytes.readableBytes
            pendingJoin = join
            return join.bytes > configuration.maxHeldBytes ? .cutSlowReader : .held
        }
        return state.room == room && !ended ? .write : .ignore
    }

    /// A zone's room-list change: false for the creator's own copy of its room's creation
    /// (it was sent in order with the join).
    mutating func zoneEvent(_ change: ZoneChange) -> Bool {
        if change.kind == .created, let suppressed = suppressCreatedPush,
           suppressed.zone == change.zone, suppressed.name == change.room.name {
            suppressCreatedPush = nil
            return false
        }
        return !ended
    }

    /// A message for this session alone (a private message, a room list).
    func direct() -> Bool {
        state.isLoggedIn && !ended
    }

    // MARK: Internals

    private mutating func runQueued(into actions: inout [SessionAction]) {
        while !busy, !ended, !closing, let next = queue.popFirst() {
            handle(next, into: &actions)
        }
        closeIfDrained(into: &actions)
    }

    private mutating func finishOperation(into actions: inout [SessionAction]) {
        if ended {
            if !busy { actions.append(.endInCluster(loggedIn: state.isLoggedIn)) }
        } else {
            runQueued(into: &actions)
        }
    }

    private mutating func closeIfDrained(into actions: inout [SessionAction]) {
        guard clientDoneSending, !drainCloseRequested, !busy, queue.isEmpty, !ended, !closing else { return }
        drainCloseRequested = true
        actions.append(.close(.drained))
    }

    private mutating func close(into actions: inout [SessionAction]) {
        guard !closing else { return }
        closing = true
        queue.removeAll()
        actions.append(.close(.afterWrites))
    }

    private mutating func ask(_ call: ClusterCall, then pending: Pending, into actions: inout [SessionAction]) {
        self.pending = pending
        actions.append(.ask(call))
    }

    private mutating func handle(_ request: ClientRequest, into actions: inout [SessionAction]) {
        switch request {
        case .login(let name, let password, let variables):
            login(name: name, password: password, variables: variables.map(Variable.init), into: &actions)
        case .adminLogin(let name, let password):
            adminLogin(name: name, password: password, into: &actions)
        case .moderatorCommand(let spec):
            moderate(spec, into: &actions)
        case .changeRoomDetails(let spec):
            changeRoomDetails(spec, into: &actions)
        case .createRoom(let zone, let spec):
            let options = RoomOptions(password: spec.password, hidden: spec.hidden, updatable: spec.updatable,
                                      capacity: spec.capacity, description: spec.description)
            switch state.checkCreate(zone: zone, room: spec.name, options: options) {
            case .failure(let reason): actions.append(.send(.createRoomFailure(reason: reason.rawValue)))
            case .success(let (room, options)): join(room, password: nil, create: options, into: &actions)
            }
        case .joinRoom(let zone, let room, let password):
            switch state.checkJoin(zone: zone, room: room) {
            case .failure(let reason): actions.append(.send(.joinRoomFailure(reason: reason.rawValue)))
            case .success(let room): join(room, password: password, create: nil, into: &actions)
            }
        case .leaveRoom:
            if state.room == nil {
                actions.append(.send(.leaveRoomFailure(reason: Reason.notInRoom.rawValue)))
            } else {
                ask(.leave(id), then: .leave, into: &actions)
            }
        case .logout:
            actions.append(.send(.logoutSuccess))
            close(into: &actions)
        case .publicMessage(let text, let variables):
            switch state.checkPublicMessage(text, now: NIODeadline.now().uptimeNanoseconds) {
            case .failure(let reason):
                actions.append(.send(.error(reason, action: request.action)))
            case .success(let room):
                actions.append(.publish(room, .publicMessage(text: text, sender: state.profile?.name ?? "", variables: variables)))
            }
        case .privateMessage(let names, let text, let variables):
            switch state.checkPrivateMessage(to: names, text, now: NIODeadline.now().uptimeNanoseconds) {
            case .failure(let reason):
                actions.append(.send(.error(reason, action: request.action)))
            case .success(let recipients):
                guard !recipients.isEmpty else { return }
                let message = ServerEvent.privateMessage(text: text, sender: state.profile?.name ?? "", variables: variables)
                ask(.sendPrivate(nameKeys: recipients.map(\.key), message: message), then: .privateMessage(recipients), into: &actions)
            }
        case .getLoggedInUserCount:
            ask(.loggedInCount, then: .count(action: request.action), into: &actions)
        case .getServerTime:
            actions.append(.send(.serverTime(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))))
        case .getRoomsInZone(let raw):
            guard let zone = state.resolveZone(raw) else {
                actions.append(.send(.roomsInZone(zone: raw, zoneUsers: 0, rooms: [])))
                return
            }
            ask(.zoneListing(zone), then: .listing(action: request.action), into: &actions)
        case .ping:
            actions.append(.send(.pong))
        case .unknown(let action):
            actions.append(.send(.error(.unknownAction, action: action)))
        }
    }

    private mutating func login(name raw: String, password: String, variables: [Variable], into actions: inout [SessionAction]) {
        switch state.checkLogin(name: raw, password: password, variables: variables) {
        case .failure(.incorrectPassword):
            // The lockout comes first (a locked name gets `Too many attempts`), then the
            // wrong password is counted cluster-wide.
            guard case .success(let name) = UserName.validate(raw, maxLength: state.limits.maxNameLength) else { return }
            ask(.isLockedOut(nameKey: name.key), then: .lockout(name, nil), into: &actions)
        case .failure(let reason):
            actions.append(.send(.loginDenied(reason: reason.rawValue)))
        case .success(let (name, _)) where name.mixesScripts:
            // A name mixing scripts never logs in; if it is a look-alike of someone online,
            // say so (PROTOCOL.md: `аlice` with a Cyrillic а is `alice`).
            ask(.isNameTaken(nameKey: name.key), then: .mixedScriptName, into: &actions)
        case .success(let (name, profile)):
            if state.checksPasswords {
                ask(.isLockedOut(nameKey: name.key), then: .lockout(name, profile), into: &actions)
            } else {
                claim(name, profile: profile, into: &actions)
            }
        }
    }

    /// AdminLogin: like Login, as a moderator; every refusal of name or password is
    /// `Incorrect password`, counted like an account's wrong password.
    private mutating func adminLogin(name raw: String, password: String, into actions: inout [SessionAction]) {
        switch state.checkAdminLogin(name: raw, password: password) {
        case .failure(.incorrectPassword):
            guard case .success(let name) = UserName.validate(raw, maxLength: state.limits.maxNameLength) else {
                answerWrongPassword(.loginDenied(reason: Reason.incorrectPassword.rawValue), into: &actions)
                return
            }
            ask(.isLockedOut(nameKey: name.key), then: .lockout(name, nil), into: &actions)
        case .failure(let reason):
            actions.append(.send(.loginDenied(reason: reason.rawValue)))
        case .success(let (name, profile)):
            ask(.isLockedOut(nameKey: name.key), then: .lockout(name, profile), into: &actions)
        }
    }

    private static let moderatorCommand = "ModeratorCommand"

    /// ModeratorCommand (PROTOCOL.md section 5): checked here, carried out by the cluster.
    private mutating func moderate(_ spec: ModeratorCommandSpec, into actions: inout [SessionAction]) {
        let action = Self.moderatorCommand
        guard let checked = state.checkModeration(minorAction: spec.minorAction, userName: spec.userName, reason: spec.reason,
                                                  expires: spec.expires, address: spec.address) else {
            actions.append(.send(.error(.unknownAction, action: action, detail: "MinorAction must be Kick, Ban or Unban")))
            return
        }
        switch checked {
        case .failure(let reason):
            actions.append(.send(.error(reason, action: action, detail: reason == .userNotFound ? spec.userName : nil)))
        case .success(let moderation):
            let moderator = state.profile?.name ?? ""
            let request: ModerationRequest
            switch moderation.action {
            case .kick:
                request = ModerationRequest(action: .kick, targetKey: moderation.targetKey,
                                            notice: ServerEvent.kicked(reason: moderation.reason, moderator: moderator).encoded())
            case .ban(let minutes, let address):
                let milliseconds = Moderation.banMilliseconds(minutes: minutes, minuteMilliseconds: state.limits.banMinuteMilliseconds)
                let notice = ServerEvent.banned(reason: moderation.reason, moderator: moderator, expires: moderation.expiresText)
                request = ModerationRequest(action: .ban(milliseconds: milliseconds, address: address),
                                            targetKey: moderation.targetKey, notice: notice.encoded())
            case .unban:
                request = ModerationRequest(action: .unban, targetKey: moderation.targetKey, notice: ByteBuffer())
            }
            ask(.moderate(request), then: .moderation(moderation), into: &actions)
        }
    }

    private static let changeRoomDetails = "ChangeRoomDetails"

    /// ChangeRoomDetails (PROTOCOL.md section 5): checked here; whether the sender may
    /// change the room (its creator, a moderator) is the cluster's to decide.
    private mutating func changeRoomDetails(_ spec: ChangeRoomDetailsSpec, into actions: inout [SessionAction]) {
        guard let checked = state.checkChangeRoomDetails(minorAction: spec.minorAction, description: spec.description,
                                                         capacity: spec.capacity, hidden: spec.hidden,
                                                         isProtected: spec.isProtected, password: spec.password,
                                                         updatable: spec.updatable) else {
            actions.append(.send(.error(.unknownAction, action: Self.changeRoomDetails,
                                        detail: "MinorAction must be \(RoomDetailChange.minorActions)")))
            return
        }
        switch checked {
        case .failure(let reason):
            actions.append(.send(.changeRoomDetailsFailure(reason: reason.rawValue)))
        case .success(let change):
            ask(.changeRoomDetails(RoomDetailsRequest(session: id, change: change, moderator: state.isModerator)),
                then: .roomDetails, into: &actions)
        }
    }

    private mutating func claim(_ name: UserName, profile: UserProfile, into actions: inout [SessionAction]) {
        ask(.login(LoginRequest(session: id, name: name, profile: profile, zone: state.defaultZone, address: clientAddress)),
            then: .claim(name, profile), into: &actions)
    }

    private mutating func join(_ room: RoomRef, password: String?, create: RoomOptions?, into actions: inout [SessionAction]) {
        pendingJoin = (room, [], 0)
        if let create, !create.hidden { suppressCreatedPush = room }
        ask(.join(JoinRequest(session: id, room: room, password: password, create: create)),
            then: .join(room, creating: create != nil), into: &actions)
    }

    /// Answers a wrong room or account password as PROTOCOL.md section 7 says.
    private mutating func answerWrongPassword(_ answer: ServerEvent, into actions: inout [SessionAction]) {
        guard !ended else { return }
        switch state.passwordAttempts.recordWrong() {
        case .none:
            actions.append(.send(answer))
        case .delay(let milliseconds):
            pending = .penalty(answer: answer)
            actions.append(.wait(milliseconds: milliseconds))
        case .disconnect:
            actions.append(.send(answer))
            actions.append(.log(.tooManyWrongPasswords))
            close(into: &actions)
        }
    }

    private mutating func apply(_ answer: ClusterAnswer, to pending: Pending, into actions: inout [SessionAction]) {
        switch (pending, answer) {
        case (.count(let action), .count(let result)):
            switch result {
            case .success(let count): actions.append(.send(.loggedInUserCount(count)))
            case .failure: actions.append(.send(.error(.clusterUnavailable, action: action)))
            }
        case (.listing(let action), .listing(let result)):
            switch result {
            case .success(let listing): actions.append(.send(.roomsInZone(listing)))
            case .failure: actions.append(.send(.error(.clusterUnavailable, action: action)))
            }
        case (.mixedScriptName, .flag(let result)):
            switch result {
            case .success(true): actions.append(.send(.loginDenied(reason: Reason.nameInUse.rawValue)))
            case .success(false): actions.append(.send(.loginDenied(reason: Reason.nameInvalid.rawValue)))
            case .failure: actions.append(.send(.loginDenied(reason: Reason.clusterUnavailable.rawValue)))
            }
        case (.lockout(let name, let accepted), .flag(let result)):
            guard !ended else { return }
            switch result {
            case .failure:
                actions.append(.send(.loginDenied(reason: Reason.clusterUnavailable.rawValue)))
            case .success(true):
                answerWrongPassword(.loginDenied(reason: Reason.tooManyAttempts.rawValue), into: &actions)
            case .success(false):
                if let accepted {
                    claim(name, profile: accepted, into: &actions)
                } else {
                    ask(.recordWrongPassword(nameKey: name.key), then: .wrongPassword, into: &actions)
                }
            }
        case (.wrongPassword, .flag(let result)):
            if case .success(true) = result { actions.append(.log(.nameLockedOut)) }
            answerWrongPassword(.loginDenied(reason: Reason.incorrectPassword.rawValue), into: &actions)
        case (.claim(let name, let profile), .login(let result)):
            switch result {
            case .success(.accepted(let listing)):
                state.loggedIn(as: name, profile: profile)
                if ended { return } // ended in the cluster right after, by `finishOperation`
                actions.append(.enterZone(listing.zone))
                actions.append(.send(.roomList(listing)))
                actions.append(.send(.loginAccepted))
            case .success(.nameInUse):
                actions.append(.send(.loginDenied(reason: Reason.nameInUse.rawValue)))
            case .success(.nameBanned):
                actions.append(.send(.loginDenied(reason: Reason.nameBanned.rawValue)))
            case .failure:
                actions.append(.send(.loginDenied(reason: Reason.clusterUnavailable.rawValue)))
            }
        case (.join(let room, let creating), .join(let result)):
            let held = pendingJoin?.held ?? []
            pendingJoin = nil
            let failure: Reason
            switch result {
            case .success(.joined(let joined)):
                completeJoin(joined, held: held, into: &actions)
                return
            case .success(.failed(let reason)): failure = reason
            case .failure: failure = .clusterUnavailable
            }
            if suppressCreatedPush == room { suppressCreatedPush = nil }
            let answer: ServerEvent = creating ? .createRoomFailure(reason: failure.rawValue) : .joinRoomFailure(reason: failure.rawValue)
            if failure == .incorrectPassword {
                answerWrongPassword(answer, into: &actions)
            } else {
                actions.append(.send(answer))
            }
        case (.leave, .left(let result)):
            switch result {
            case .success(let left):
                state.leftRoom()
                actions.append(.send(left ? .leaveRoomSuccess : .leaveRoomFailure(reason: Reason.notInRoom.rawValue)))
            case .failure:
                actions.append(.send(.leaveRoomFailure(reason: Reason.clusterUnavailable.rawValue)))
            }
        case (.privateMessage(let recipients), .privateSent(let result)):
            switch result {
            case .success(let missing):
                for index in missing where recipients.indices.contains(index) {
                    actions.append(.send(.error(.userNotFound, action: "SendPrivateMessage", detail: recipients[index].name)))
                }
            case .failure:
                actions.append(.send(.error(.clusterUnavailable, action: "SendPrivateMessage")))
            }
        case (.moderation(let moderation), .moderated(let result)):
            switch result {
            case .success(.done):
                actions.append(.log(.moderated(moderation)))
                actions.append(.send(.moderatorCommandSuccess))
            case .success(.userNotFound):
                actions.append(.send(.error(.userNotFound, action: Self.moderatorCommand, detail: moderation.targetName)))
            case .failure:
                actions.append(.send(.error(.clusterUnavailable, action: Self.moderatorCommand)))
            }
        case (.roomDetails, .roomDetails(let result)):
            switch result {
            case .success(.changed):
                actions.append(.send(.changeRoomDetailsSuccess))
            case .success(.failed(.notAllowed)):
                actions.append(.send(.error(.notAllowed, action: Self.changeRoomDetails)))
            case .success(.failed(let reason)):
                actions.append(.send(.changeRoomDetailsFailure(reason: reason.rawValue)))
            case .failure:
                actions.append(.send(.changeRoomDetailsFailure(reason: Reason.clusterUnavailable.rawValue)))
            }
        default:
            assertionFailure("an answer that does not fit the operation in flight: \(pending) / \(answer)")
        }
    }

    /// JoinRoom success in the order of PROTOCOL.md: CreateRoom result, RoomList of a new
    /// zone, UpdateRoomList CreateRoom, JoinRoom, then the room's events since the join.
    private mutating func completeJoin(_ joined: JoinedRoom, held: [ByteBuffer], into actions: inout [SessionAction]) {
        let previousZone = state.zone
        state.joined(joined.room)
        if ended { return }
        if joined.created { actions.append(.send(.createRoomSuccess)) }
        if var listing = joined.newZone {
            actions.append(.leaveZone(previousZone))
            actions.append(.enterZone(listing.zone))
            if joined.created { listing.rooms.removeAll { $0.name == joined.room.name } }
            actions.append(.send(.roomList(listing)))
        }
        if joined.created, !joined.summary.hidden {
            actions.append(.send(.updateRoomList(ZoneChange(kind: .created, zone: joined.room.zone,
                                                            zoneUsers: joined.zoneUsers, room: joined.summary))))
        }
        actions.append(.send(.joinRoomSuccess(room: WireRoom(joined.summary), roomVariables: [], users: joined.members.map(WireUser.init))))
        for bytes in held { actions.append(.sendBytes(bytes)) }
    }
}

/// What `SessionMachine` asks its transport to do, in order.
enum SessionAction {
    /// Encode and send (flushed at the end of the read batch or operation).
    case send(ServerEvent)
    /// Send bytes encoded already (room events held during a join).
    case sendBytes(ByteBuffer)
    /// Run one cluster operation; its answer goes to `SessionMachine.answered(_:)`.
    case ask(SessionMachine.ClusterCall)
    /// Publish a public message, acknowledged without holding later requests; a refusal
    /// goes to `SessionMachine.publishRefused()`.
    case publish(RoomRef, ServerEvent)
    /// Hold the session's requests, then call `SessionMachine.waited()`.
    case wait(milliseconds: Int)
    /// The session's zone for room-list pushes.
    case enterZone(String)
    case leaveZone(String)
    case close(SessionMachine.Close)
    /// The session is over and nothing is in flight: end it in the cluster (log out when
    /// logged in), then give back its connection slot.
    case endInCluster(loggedIn: Bool)
    case log(SessionMachine.Log)
}
