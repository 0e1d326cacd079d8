import NIOCore
import Testing

import Wire

/// PROTOCOL.md section 5, room and user variables, on the wire: the five requests decoded as
/// the ES3 client writes them, and the pushes encoded with the exact element names and order.
@Suite struct VariablesWireTests {
    private func decode(_ action: String, _ parameters: String) throws -> ClientRequest {
        try ClientRequest.decode(ByteBuffer(string: "<XmlDoc><Action>\(action)</Action><Parameters>\(parameters)</Parameters></XmlDoc>"))
    }

    private func frame(_ action: String, _ parameters: String) -> String {
        "<XmlDoc><Action>\(action)</Action><Parameters>\(parameters)</Parameters></XmlDoc>\0"
    }

    @Test func decodesRoomVariableRequests() throws {
        #expect(try decode("CreateRoomVariable", #"<RoomVariable Persistent="true" Locked="TRUE"><Name>topic</Name><Data><![CDATA[<b>cats</b>]]></Data></RoomVariable>"#)
                == .createRoomVariable(RoomVariableSpec(name: "topic", data: "<b>cats</b>", persistent: true, locked: true)))
        #expect(try decode("createroomvariable", "<RoomVariable><Name>t</Name><Data>d</Data></RoomVariable>")
                == .createRoomVariable(RoomVariableSpec(name: "t", data: "d")), "attributes default to false")
        #expect(try decode("UpdateRoomVariable", #"<RoomVariable Persistent="true" Locked="true"><Name>t</Name><Data>d</Data></RoomVariable>"#)
                == .updateRoomVariable(RoomVariableSpec(name: "t", data: "d", persistent: false, locked: true)), "an update sets no persistence")
        #expect(try decode("DeleteRoomVariable", "<RoomVariable><Name>t</Name></RoomVariable>") == .deleteRoomVariable(name: "t"))
        #expect(try decode("DeleteRoomVariable", "") == .deleteRoomVariable(name: ""))
        #expect(try decode("CreateRoomVariable", "") == .createRoomVariable(RoomVariableSpec(name: "")))
    }

    @Test func decodesCreateRoomsInitialVariables() throws {
        let request = try decode("CreateRoom", #"<Zone><Name></Name><Room><Name>R</Name><RoomVariables>"#
            + #"<RoomVariable Persistent="true"><Name>topic</Name><Data><![CDATA[<i>x</i>]]></Data></RoomVariable>"#
            + #"<RoomVariable Locked="true"><Name>b</Name></RoomVariable></RoomVariables></Room></Zone>"#)
        guard case .createRoom(_, let room) = request else { Issue.record("\(request)"); return }
        #expect(room.variables == [RoomVariableSpec(name: "topic", data: "<i>x</i>", persistent: true),
                                   RoomVariableSpec(name: "b", data: "", locked: true)])
        guard case .createRoom(_, let plain) = try decode("CreateRoom", "<Zone><Room><Name>R</Name><RoomVariables/></Room></Zone>") else { return }
        #expect(plain.variables.isEmpty)
    }

    @Test func decodesUserVariableRequests() throws {
        #expect(try decode("UpdateUserVariable", "<MinorAction> Create </MinorAction><Name>mood</Name><Data>glad &amp; <i>calm</i></Data>")
                == .updateUserVariable(minorAction: "Create", name: "mood", data: "glad &amp; <i>calm</i>"))
        #expect(try decode("updateuservariable", "<MinorAction>Update</MinorAction><Name>m</Name>")
                == .updateUserVariable(minorAction: "Update", name: "m", data: ""))
        #expect(try decode("DeleteUserVariable", "<UserVariable><Name>mood</Name></UserVariable>") == .deleteUserVariable(name: "mood"))
        for action in ["CreateRoomVariable", "UpdateRoomVariable", "DeleteRoomVariable", "UpdateUserVariable", "DeleteUserVariable"] {
            #expect(ClientRequest.knownActions.contains(action))
            #expect(try decode(action, "").action == action)
        }
    }

    @Test func encodesRoomVariablePushes() {
        let topic = WireRoomVariable(name: "topic", data: "a<b", persistent: true, locked: false)
        #expect(encodedString(.roomVariableChanged(minorAction: "Create", variable: topic)) == frame("UpdateRoomVariable",
            #"<MinorAction>Create</MinorAction><RoomVariable Persistent="true" Locked="false"><Name>topic</Name><Data>a&lt;b</Data></RoomVariable>"#))
        #expect(encodedString(.roomVariableChanged(minorAction: "Update", variable: WireRoomVariable(name: "t", data: "", locked: true)))
                == frame("UpdateRoomVariable", #"<MinorAction>Update</MinorAction><RoomVariable Persistent="false" Locked="true"><Name>t</Name><Data></Data></RoomVariable>"#))
        #expect(encodedString(.roomVariableChanged(minorAction: "Delete", variable: topic)) == frame("UpdateRoomVariable",
            #"<MinorAction>Delete</MinorAction><RoomVariable Persistent="true" Locked="false"><Name>topic</Name></RoomVariable>"#), "no Data on Delete")
    }

    @Test func encodesUserVariablePushes() {
        #expect(encodedString(.userVariableChanged(minorAction: "Create", user: "alice", variable: WireVariable(name: "mood", data: "&")))
                == frame("UpdateUserVariable", "<MinorAction>Create</MinorAction><UserVariable><User>alice</User><Name>mood</Name><Data>&amp;</Data></UserVariable>"))
        #expect(encodedString(.userVariableDeleted(user: "alice", name: "mood"))
                == frame("DeleteUserVariable", "<UserVariable><User>alice</User><Name>mood</Name></UserVariable>"))
    }
}
