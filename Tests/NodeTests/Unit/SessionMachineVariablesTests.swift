import ChatDomain
import ChorusTesting
import ClusterBus
import NIOCore
@testable import Node
import Testing
import Wire

/// Room and user variable requests as the session machine answers them (PROTOCOL.md section 5).
struct SessionMachineVariablesTests {
    static func inArena() -> SessionMachine {
        var machine = SessionMachineTests.loggedIn()
        _ = machine.received(.joinRoom(zone: "", room: "Lobby", password: ""))
        _ = machine.answered(SessionMachineTests.joined())
        return machine
    }

    @Test func userVariablesAreStoredThenToldToTheRoomOrToTheUserAlone() {
        var machine = SessionMachineTests.loggedIn()
        let create = machine.received(.updateUserVariable(minorAction: "update", name: "mood", data: "calm"))
        #expect(SessionMachineTests.describe(create) == ["ask setProfile [mood=calm] send UpdateUserVariable Create"],
                "an Update of a new name is a Create")
        // In no room: the push goes to the user alone.
        #expect(SessionMachineTests.describe(machine.answered(.profileSet(.success(false)))) == ["send UpdateUserVariable Create"])
        #expect(machine.state.profile?.variables == [Variable(name: "mood", data: "calm")])

        machine = Self.inArena()
        _ = machine.received(.updateUserVariable(minorAction: "Create", name: "mood", data: "calm"))
        #expect(SessionMachineTests.describe(machine.answered(.profileSet(.success(true)))) == [], "the room's event brings it")
        #expect(SessionMachineTests.describe(machine.received(.updateUserVariable(minorAction: "Create", name: "mood", data: "glad")))
                == ["ask setProfile [mood=glad] send UpdateUserVariable Update"])
        _ = machine.answered(.profileSet(.success(true)))
        #expect(SessionMachineTests.describe(machine.received(.deleteUserVariable(name: "mood"))) == ["ask setProfile [] send DeleteUserVariable"])
        #expect(SessionMachineTests.describe(machine.answered(.profileSet(.failure(.unavailable))))
                == ["send Error Cluster unavailable"])
        #expect(machine.state.profile?.variables == [Variable(name: "mood", data: "glad")], "not stored: unchanged")
    }

    @Test func userVariableRefusals() {
        var machine = SessionMachineTests.loggedIn()
        #expect(SessionMachineTests.describe(machine.received(.deleteUserVariable(name: "nothing"))) == ["send Error Variable does not exist"])
        #expect(SessionMachineTests.describe(machine.received(.updateUserVariable(minorAction: "Create", name: "", data: "")))
                == ["send Error Variable name is required"])
        #expect(SessionMachineTests.describe(machine.received(.updateUserVariable(minorAction: "Delete", name: "a", data: "")))
                == ["send Error Unknown action"])
        var fresh = SessionMachineTests.machine()
        #expect(SessionMachineTests.describe(fresh.received(.deleteUserVariable(name: "a"))) == ["send Error Not logged in"])
    }

    @Test func roomVariablesAreAskedOfTheClusterWithTheSendersRights() {
        var machine = SessionMachineTests.loggedIn()
        #expect(SessionMachineTests.describe(machine.received(.createRoomVariable(RoomVariableSpec(name: "topic", data: "x"))))
                == ["send Error Not in a room"])
        machine = Self.inArena()
        let asked = machine.received(.createRoomVariable(RoomVariableSpec(name: "topic", data: "x", persistent: true, locked: true)))
        #expect(SessionMachineTests.describe(asked) == [#"ask roomVariable topic create(data: "x", persistent: true, locked: true)"#])
        if case .ask(.roomVariable(let request)) = asked.first {
            #expect(request.room == SessionMachineTests.lobby && !request.moderator && request.maxVariables == 32)
        } else {
            Issue.record("no room variable asked")
        }
        #expect(SessionMachineTests.describe(machine.answered(.roomVariable(.success(.done)))) == [])
        _ = machine.received(.updateRoomVariable(RoomVariableSpec(name: "topic", data: "y")))
        #expect(SessionMachineTests.describe(machine.answered(.roomVariable(.success(.failed(.variableLocked)))))
                == ["send Error Variable is locked"])
        _ = machine.received(.deleteRoomVariable(name: "topic"))
        #expect(SessionMachineTests.describe(machine.answered(.roomVariable(.failure(.unavailable)))) == ["send Error Cluster unavailable"])
        #expect(SessionMachineTests.describe(machine.received(.updateRoomVariable(RoomVariableSpec(name: "t", data: String(repeating: "x", count: 4097)))))
                == ["send Error Variable is too large"])
        #expect(SessionMachineTests.describe(machine.received(.deleteRoomVariable(name: "a<b"))) == ["send Error Variable name is invalid"])
    }

    @Test func variableChangesDrawOnTheMessageBudget() {
        var machine = SessionMachineTests.machine { configuration in
            configuration.limits.floodRate = 0.001
            configuration.limits.floodBurst = 2
        }
        _ = machine.received(SessionMachineTests.login("alice"))
        _ = machine.answered(.login(.success(.accepted(SessionMachineTests.listing))))
        _ = machine.received(.joinRoom(zone: "", room: "Lobby", password: ""))
        _ = machine.answered(SessionMachineTests.joined())
        _ = machine.received(.createRoomVariable(RoomVariableSpec(name: "a", data: "")))
        _ = machine.answered(.roomVariable(.success(.done)))
        _ = machine.received(.updateUserVariable(minorAction: "Create", name: "b", data: ""))
        _ = machine.answered(.profileSet(.success(true)))
        #expect(SessionMachineTests.describe(machine.received(.updateRoomVariable(RoomVariableSpec(name: "a", data: "x"))))
                == ["send Error Flooding"])
        #expect(SessionMachineTests.describe(machine.received(.deleteUserVariable(name: "b"))) == ["send Error Flooding"])
        #expect(SessionMachineTests.describe(machine.received(.publicMessage(text: "hi", variables: []))) == ["send Error Flooding"])
        #expect(SessionMachineTests.describe(machine.received(.deleteRoomVariable(name: "bad<"))) == ["send Error Variable name is invalid"],
                "a refused request costs nothing more")
    }

    @Test func joinRoomListsTheRoomsVariables() {
        var machine = SessionMachineTests.loggedIn()
        _ = machine.received(.joinRoom(zone: "", room: "Lobby", password: ""))
        let creator = SessionID(node: NodeID("n1.00000001"), number: 9)
        let joined = JoinedRoom(room: SessionMachineTests.lobby, summary: RoomSummary(name: "Lobby", users: 1, options: RoomOptions()),
                                members: [UserProfile(name: "alice")], created: false, left: nil, newZone: nil, zoneUsers: 1,
                                variables: [RoomVariable(name: "topic", data: "cats", persistent: true, locked: false, creator: creator)])
        let actions = machine.answered(.join(.success(.joined(joined))))
        guard case .send(let event) = actions.first else { Issue.record("nothing sent"); return }
        #expect(String(buffer: event.encoded()).contains(
            #"<RoomVariables><RoomVariable Persistent="true" Locked="false"><Name>topic</Name><Data>cats</Data></RoomVariable></RoomVariables>"#))
    }
}
