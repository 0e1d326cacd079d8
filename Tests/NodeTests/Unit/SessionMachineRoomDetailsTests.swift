import ChatDomain
import ChorusTesting
import ClusterBus
@testable import Node
import Testing
import Wire

/// ChangeRoomDetails as the session machine answers it (PROTOCOL.md section 5): checked
/// locally (a room, a known MinorAction, the description's length), decided by the cluster
/// (creator or moderator), answered with `ChangeRoomDetails` or `Error` `Not allowed`.
struct SessionMachineRoomDetailsTests {
    static func change(_ minor: String, description: String = "", capacity: String = "", hidden: String = "",
                       isProtected: String = "", password: String = "", updatable: String = "") -> ClientRequest {
        .changeRoomDetails(ChangeRoomDetailsSpec(minorAction: minor, description: description, capacity: capacity, hidden: hidden,
                                                 isProtected: isProtected, password: password, updatable: updatable))
    }

    static func inRoom() -> SessionMachine {
        var machine = SessionMachineTests.loggedIn()
        _ = machine.received(.joinRoom(zone: "", room: "Lobby", password: ""))
        _ = machine.answered(SessionMachineTests.joined())
        return machine
    }

    @Test func outsideARoomTheAnswerIsNotInARoomWithoutAskingTheCluster() {
        var machine = SessionMachineTests.loggedIn()
        #expect(SessionMachineTests.describe(machine.received(Self.change("ChangeDescription", description: "x")))
                == ["send ChangeRoomDetails Failure Not in a room"])
        machine = SessionMachineTests.machine()
        #expect(SessionMachineTests.describe(machine.received(Self.change("ChangeCapacity", capacity: "3")))
                == ["send ChangeRoomDetails Failure Not in a room"])
    }

    @Test func eachChangeGoesToTheClusterAndItsAnswerToTheSender() {
        var machine = Self.inRoom()
        #expect(SessionMachineTests.describe(machine.received(Self.change("ChangeCapacity", capacity: "3")))
                == ["ask changeRoomDetails capacity(Optional(3))"])
        let summary = RoomSummary(name: "Lobby", users: 1, options: RoomOptions(capacity: 3))
        #expect(SessionMachineTests.describe(machine.answered(.roomDetails(.success(.changed(summary)))))
                == ["send ChangeRoomDetails Success"])

        _ = machine.received(Self.change("changepasswordprotected", isProtected: "true", password: "pw"))
        #expect(SessionMachineTests.describe(machine.answered(.roomDetails(.success(.failed(.notAllowed)))))
                == ["send Error Not allowed"])
        _ = machine.received(Self.change("ChangeVisibility", hidden: "true"))
        #expect(SessionMachineTests.describe(machine.answered(.roomDetails(.success(.failed(.notInRoom)))))
                == ["send ChangeRoomDetails Failure Not in a room"])
        _ = machine.received(Self.change("ChangeUpdatable", updatable: "false"))
        #expect(SessionMachineTests.describe(machine.answered(.roomDetails(.failure(.unavailable))))
                == ["send ChangeRoomDetails Failure Cluster unavailable"])
    }

    @Test func theRequestCarriesThePasswordAndWhetherTheSenderIsAModerator() throws {
        var machine = Self.inRoom()
        let asked = machine.received(Self.change("ChangePasswordProtected", isProtected: "true", password: "s3cret"))
        guard case .ask(.changeRoomDetails(let request)) = asked.first else { throw TestFailure("nothing asked: \(asked)") }
        #expect(request.change == .password("s3cret") && !request.moderator && request.session == machine.id)

        var moderator = try SessionMachineModerationTests.moderator()
        _ = moderator.received(.joinRoom(zone: "", room: "Lobby", password: ""))
        _ = moderator.answered(SessionMachineTests.joined())
        let byModerator = moderator.received(Self.change("ChangeVisibility", hidden: "TRUE"))
        guard case .ask(.changeRoomDetails(let modRequest)) = byModerator.first else { throw TestFailure("nothing asked") }
        #expect(modRequest.change == .hidden(true) && modRequest.moderator)
    }

    @Test func aTooLongDescriptionAndAnUnknownMinorActionNeverReachTheCluster() {
        var machine = Self.inRoom()
        let long = String(repeating: "d", count: ChatLimits().maxDescriptionLength + 1)
        #expect(SessionMachineTests.describe(machine.received(Self.change("ChangeDescription", description: long)))
                == ["send ChangeRoomDetails Failure Description is too long"])
        #expect(SessionMachineTests.describe(machine.received(Self.change("ChangeName", description: "x")))
                == ["send Error Unknown action"])
    }
}
