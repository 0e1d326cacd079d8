import ChatDomain
import ClusterBus
import NIOCore
@testable import Node
import Testing
import Wire

/// The session's rules without a transport: every input, and what the machine asks for,
/// in order (PROTOCOL.md sections 3, 4, 6 and 7).
struct SessionMachineTests {
    static let id = SessionID(node: NodeID("n1.00000001"), number: 1)
    static let lobby = RoomRef(zone: "Chat", name: "Lobby")

    static func machine(_ configure: (inout SessionMachine.Configuration) -> Void = { _ in }) -> SessionMachine {
        var configuration = SessionMachine.Configuration()
        configure(&configuration)
        return SessionMachine(id: id, configuration: configuration)
    }

    /// One line per action: `send LoginResponse`, `ask login`, `close afterWrites`, ...
    static func describe(_ actions: [SessionAction]) -> [String] {
        actions.map { action in
            switch action {
            case .send(let event):
                let xml = String(buffer: event.encoded())
                let name = xml.range(of: "<Action>").flatMap { start in
                    xml.range(of: "</Action>").map { String(xml[start.upperBound..<$0.lowerBound]) }
                } ?? "?"
                let detail = ["Result", "Reason", "MinorAction"].compactMap { tag -> String? in
                    guard let start = xml.range(of: "<\(tag)>"), let end = xml.range(of: "</\(tag)>") else { return nil }
                    return String(xml[start.upperBound..<end.lowerBound])
                }
                return (["send", name] + detail).joined(separator: " ")
            case .sendBytes(let bytes): return "sendBytes \(String(buffer: bytes))"
            case .ask(let call):
                switch call {
                case .login: return "ask login"
                case .join(let request): return "ask join \(request.room.name)\(request.create != nil ? " create" : "")"
                case .leave: return "ask leave"
                case .loggedInCount: return "ask count"
                case .zoneListing(let zone): return "ask listing \(zone)"
                case .sendPrivate(let keys, _): return "ask private \(keys.joined(separator: ","))"
                case .isLockedOut: return "ask isLockedOut"
                case .recordWrongPassword: return "ask recordWrongPassword"
                case .isNameTaken: return "ask isNameTaken"
                case .moderate(let request): return "ask moderate \(request.action) \(request.targetKey)"
                case .changeRoomDetails(let request):
                    return "ask changeRoomDetails \(request.change)\(request.moderator ? " moderator" : "")"
                }
            case .publish(let room, _): return "publish \(room.name)"
            case .wait(let milliseconds): return "wait \(milliseconds)"
            case .enterZone(let zone): return "enterZone \(zone)"
            case .leaveZone(let zone): return "leaveZone \(zone)"
            case .close(let close): return "close \(close)"
            case .endInCluster(let loggedIn): return "endInCluster loggedIn=\(loggedIn)"
            case .log(let entry): return "log \(entry)"
            }
        }
    }

    static func login(_ name: String) -> ClientRequest { .login(name: name, password: "", variables: []) }
    static let listing = ZoneListing(zone: "Chat", users: 1, rooms: [RoomSummary(name: "Lobby", users: 0, options: RoomOptions())])

    static func joined(_ room: RoomRef = lobby, created: Bool = false, newZone: ZoneListing? = nil) -> SessionMachine.ClusterAnswer {
        .join(.success(.joined(JoinedRoom(room: room, summary: RoomSummary(name: room.name, users: 1, options: RoomOptions()),
                                          members: [UserProfile(name: "alice")], created: created, left: nil,
                                          newZone: newZone, zoneUsers: 1))))
    }

    static func loggedIn() -> SessionMachine {
        var machine = machine()
        _ = machine.received(login("alice"))
        _ = machine.answered(.login(.success(.accepted(listing))))
        return machine
    }

    @Test func loginSendsTheRoomListBeforeTheLoginResponse() {
        var machine = Self.machine()
        let r1 = machine.received(Self.login("alice"))
        #expect(Self.describe(r1) == ["ask login"])
        #expect(machine.busy)
        let r2 = machine.answered(.login(.success(.accepted(Self.listing))))
        #expect(Self.describe(r2) ==
                ["enterZone Chat", "send RoomList", "send LoginResponse Accepted"])
        #expect(machine.state.isLoggedIn)
    }

    @Test func requestsWaitForTheOneInFlightAndKeepTheirOrder() {
        var machine = Self.machine()
        _ = machine.received(Self.login("alice"))
        let r3 = machine.received(.ping)
        #expect(r3.isEmpty)
        let r4 = machine.received(.getLoggedInUserCount)
        #expect(r4.isEmpty)
        let r5 = machine.answered(.login(.success(.accepted(Self.listing))))
        #expect(Self.describe(r5) ==
                ["enterZone Chat", "send RoomList", "send LoginResponse Accepted", "send Pong", "ask count"])
        let r6 = machine.answered(.count(.success(3)))
        #expect(Self.describe(r6) == ["send GetLoggedInUserCount"])
    }

    @Test func theQueueIsBoundedForTheTransportToStopReading() {
        var machine = Self.machine()
        _ = machine.received(Self.login("alice"))
        for _ in 0..<SessionMachine.Configuration.maxQueued { _ = machine.received(.ping) }
        #expect(!machine.wantsInput)
        _ = machine.answered(.login(.success(.accepted(Self.listing))))
        #expect(machine.wantsInput)
    }

    @Test func aLoginFinishingAfterTheSocketClosedEndsInTheCluster() {
        var machine = Self.machine()
        _ = machine.received(Self.login("alice"))
        let (endNow, _) = machine.closed()
        #expect(!endNow, "the login in flight decides")
        let r7 = machine.answered(.login(.success(.accepted(Self.listing))))
        #expect(Self.describe(r7) == ["endInCluster loggedIn=true"])
    }

    @Test func aSessionClosedWithNothingInFlightEndsAtOnce() {
        var machine = Self.loggedIn()
        let (endNow, loggedIn) = machine.closed()
        #expect(endNow && loggedIn)
        let r8 = machine.received(.ping)
        #expect(r8.isEmpty, "nothing after the end")
    }

    @Test func roomEventsDuringAJoinAreHeldAndFollowTheJoinRoomResponse() {
        var machine = Self.loggedIn()
        let r9 = machine.received(.joinRoom(zone: "Chat", room: "Lobby", password: ""))
        #expect(Self.describe(r9) == ["ask join Lobby"])
        let r10 = machine.roomEvent(ByteBuffer(string: "early"), in: Self.lobby)
        #expect(r10 == .held)
        let r11 = machine.answered(Self.joined())
        #expect(Self.describe(r11) == ["send JoinRoom Success", "sendBytes early"])
        let r12 = machine.roomEvent(ByteBuffer(string: "later"), in: Self.lobby)
        #expect(r12 == .write)
        let r13 = machine.roomEvent(ByteBuffer(string: "other"), in: RoomRef(zone: "Chat", name: "Other"))
        #expect(r13 == .ignore)
    }

    @Test func tooMuchHeldDuringAJoinIsASlowReader() {
        var machine = Self.machine { $0.maxHeldBytes = 10 }
        _ = machine.received(Self.login("alice"))
        _ = machine.answered(.login(.success(.accepted(Self.listing))))
        _ = machine.received(.joinRoom(zone: "Chat", room: "Lobby", password: ""))
        let r14 = machine.roomEvent(ByteBuffer(string: "0123456789"), in: Self.lobby)
        #expect(r14 == .held)
        let r15 = machine.roomEvent(ByteBuffer(string: "x"), in: Self.lobby)
        #expect(r15 == .cutSlowReader)
    }

    @Test func creatingARoomAnswersInTheProtocolsOrderAndSkipsTheClustersCopy() {
        var machine = Self.loggedIn()
        let spec = RoomSpec(name: "Den")
        let r16 = machine.received(.createRoom(zone: "", room: spec))
        #expect(Self.describe(r16) == ["ask join Den create"])
        let den = RoomRef(zone: "Chat", name: "Den")
        let r17 = machine.answered(Self.joined(den, created: true))
        #expect(Self.describe(r17) ==
                ["send CreateRoom Success", "send UpdateRoomList CreateRoom", "send JoinRoom Success"])
        let created = ZoneChange(kind: .created, zone: "Chat", zoneUsers: 1, room: RoomSummary(name: "Den", users: 1, options: RoomOptions()))
        let r18 = machine.zoneEvent(created)
        #expect(!r18, "the creator's own copy is skipped once")
        let r19 = machine.zoneEvent(created)
        #expect(r19)
    }

    @Test func joiningARoomOfAnotherZoneSendsThatZonesRoomListFirst() {
        var machine = Self.loggedIn()
        _ = machine.received(.joinRoom(zone: "Games", room: "Tables", password: ""))
        let tables = RoomRef(zone: "Games", name: "Tables")
        let games = ZoneListing(zone: "Games", users: 1, rooms: [RoomSummary(name: "Tables", users: 1, options: RoomOptions())])
        let r20 = machine.answered(Self.joined(tables, newZone: games))
        #expect(Self.describe(r20) ==
                ["leaveZone Chat", "enterZone Games", "send RoomList", "send JoinRoom Success"])
        #expect(machine.state.zone == "Games")
    }

    @Test func wrongRoomPasswordsAreAnsweredSlowerThenEndTheSession() {
        var machine = Self.machine {
            $0.limits.passwordAttempts.free = 1
            $0.limits.passwordAttempts.limit = 3
        }
        _ = machine.received(Self.login("alice"))
        _ = machine.answered(.login(.success(.accepted(Self.listing))))
        let join = ClientRequest.joinRoom(zone: "Chat", room: "Vault", password: "guess")
        let wrong = SessionMachine.ClusterAnswer.join(.success(.failed(.incorrectPassword)))
        _ = machine.received(join)
        let r21 = machine.answered(wrong)
        #expect(Self.describe(r21) == ["send JoinRoom Failure Incorrect password"])
        _ = machine.received(join)
        let r22 = machine.answered(wrong)
        #expect(Self.describe(r22) == ["wait 250"])
        let r23 = machine.received(.ping)
        #expect(r23.isEmpty, "held during the penalty")
        let r24 = machine.waited()
        #expect(Self.describe(r24) == ["send JoinRoom Failure Incorrect password", "send Pong"])
        _ = machine.received(join)
        let r25 = machine.answered(wrong)
        #expect(Self.describe(r25) ==
                ["send JoinRoom Failure Incorrect password", "log tooManyWrongPasswords", "close afterWrites"])
    }

    @Test func aWrongAccountPasswordIsCountedAfterTheLockoutCheck() {
        var machine = Self.machine { $0.limits.accounts = ["alice": "secret"] }
        let r26 = machine.received(.login(name: "alice", password: "guess", variables: []))
        #expect(Self.describe(r26) == ["ask isLockedOut"])
        let r27 = machine.answered(.flag(.success(false)))
        #expect(Self.describe(r27) == ["ask recordWrongPassword"])
        let r28 = machine.answered(.flag(.success(true)))
        #expect(Self.describe(r28) == ["log nameLockedOut", "send LoginResponse Denied Incorrect password"])
        _ = machine.received(.login(name: "alice", password: "secret", variables: []))
        let r29 = machine.answered(.flag(.success(true)))
        #expect(Self.describe(r29) == ["send LoginResponse Denied Too many attempts"])
    }

    @Test func aNameMixingScriptsIsInUseWhenItsLookAlikeIsOnlineElseInvalid() {
        var machine = Self.machine()
        let r30 = machine.received(Self.login("\u{0430}lice"))
        #expect(Self.describe(r30) == ["ask isNameTaken"])
        let r31 = machine.answered(.flag(.success(true)))
        #expect(Self.describe(r31) == ["send LoginResponse Denied Name is already in use"])
        _ = machine.received(Self.login("b\u{03BF}b"))
        let r32 = machine.answered(.flag(.success(false)))
        #expect(Self.describe(r32) == ["send LoginResponse Denied Name contains invalid characters"])
    }

    @Test func publicMessagesArePublishedAndRefusalsReported() {
        var machine = Self.loggedIn()
        let r33 = machine.received(.publicMessage(text: "hi", variables: []))
        #expect(Self.describe(r33) == ["send Error Not in a room"])
        _ = machine.received(.joinRoom(zone: "Chat", room: "Lobby", password: ""))
        _ = machine.answered(Self.joined())
        let r34 = machine.received(.publicMessage(text: "hi", variables: []))
        #expect(Self.describe(r34) == ["publish Lobby"])
        #expect(Self.describe(machine.publishRefused()) == ["send Error Cluster unavailable"])
    }

    @Test func privateMessagesReportEachUnknownRecipientByTheNameGiven() {
        var machine = Self.loggedIn()
        let request = ClientRequest.privateMessage(to: ["Bob", "carol", "BOB"], text: "psst", variables: [])
        let r35 = machine.received(request)
        #expect(Self.describe(r35) == ["ask private \(UserName.key(for: "bob")),\(UserName.key(for: "carol"))"])
        let r36 = machine.answered(.privateSent(.success([1])))
        #expect(Self.describe(r36) == ["send Error User not found"])
    }

    @Test func malformedFramesPastTheLimitEndTheSession() {
        var machine = Self.machine { $0.maxMalformedFrames = 2 }
        let r37 = machine.malformed()
        #expect(Self.describe(r37) == ["send Error Malformed message"])
        let r38 = machine.malformed()
        #expect(Self.describe(r38) == ["send Error Malformed message"])
        let r39 = machine.malformed()
        #expect(Self.describe(r39) == ["send Error Malformed message", "log tooManyMalformedFrames", "close afterWrites"])
        let r40 = machine.received(.ping)
        #expect(r40.isEmpty, "nothing more once closing")
    }

    @Test func aClientThatStoppedSendingIsClosedOnceEverythingIsAnswered() {
        var machine = Self.machine()
        _ = machine.received(Self.login("alice"))
        _ = machine.received(.ping)
        let r41 = machine.inputClosed()
        #expect(r41.isEmpty, "the login and the ping are not answered yet")
        let r42 = machine.answered(.login(.success(.accepted(Self.listing))))
        #expect(Self.describe(r42) ==
                ["enterZone Chat", "send RoomList", "send LoginResponse Accepted", "send Pong", "close drained"])
    }

    @Test func timeoutsAndShutdownTellTheClientWhyThenClose() {
        var idle = Self.machine()
        let r43 = idle.idle()
        #expect(Self.describe(r43) == ["log idle", "send Error Idle timeout", "close afterWrites"])
        var trickle = Self.machine()
        let r44 = trickle.partialFrameTimedOut()
        #expect(Self.describe(r44) == ["log partialFrameTimedOut", "send Error Malformed message", "close afterWrites"])
        var stopping = Self.loggedIn()
        let r45 = stopping.shuttingDown()
        #expect(Self.describe(r45) == ["send Error Server shutting down", "close afterWrites"])
        var evicted = Self.loggedIn()
        let r46 = evicted.evicted(.nameInUse)
        #expect(Self.describe(r46) ==
                ["log evicted(ChatDomain.Reason.nameInUse)", "send Error Name is already in use", "close afterWrites"])
    }

    @Test func aClusterFailureIsClusterUnavailable() {
        var machine = Self.machine()
        _ = machine.received(Self.login("alice"))
        let r47 = machine.answered(.login(.failure(.unavailable)))
        #expect(Self.describe(r47) == ["send LoginResponse Denied Cluster unavailable"])
        #expect(!machine.state.isLoggedIn)
    }
}
