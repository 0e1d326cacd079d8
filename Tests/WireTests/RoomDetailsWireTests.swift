import NIOCore
import Testing

import Wire

/// PROTOCOL.md section 5, ChangeRoomDetails, on the wire: the request decoded for each
/// MinorAction, the response encoded, and the room-list push of a changed room carrying no
/// password.
@Suite struct RoomDetailsWireTests {
    private func decode(_ action: String, _ parameters: String) throws -> ClientRequest {
        try ClientRequest.decode(ByteBuffer(string: "<XmlDoc><Action>\(action)</Action><Parameters>\(parameters)</Parameters></XmlDoc>"))
    }

    private func frame(_ action: String, _ parameters: String) -> String {
        "<XmlDoc><Action>\(action)</Action><Parameters>\(parameters)</Parameters></XmlDoc>\0"
    }

    private func encoded(_ event: ServerEvent) -> String { String(buffer: event.encoded()) }

    @Test func decodesEachMinorAction() throws {
        #expect(try decode("ChangeRoomDetails", "<MinorAction> ChangeDescription </MinorAction><Description> Say <b>hi</b> </Description>")
                == .changeRoomDetails(ChangeRoomDetailsSpec(minorAction: "ChangeDescription", description: " Say <b>hi</b> ")))
        #expect(try decode("changeroomdetails", "<MinorAction>ChangeCapacity</MinorAction><Capacity> -1 </Capacity>")
                == .changeRoomDetails(ChangeRoomDetailsSpec(minorAction: "ChangeCapacity", capacity: "-1")))
        #expect(try decode("ChangeRoomDetails", "<MinorAction>ChangeVisibility</MinorAction><Hidden> true </Hidden>")
                == .changeRoomDetails(ChangeRoomDetailsSpec(minorAction: "ChangeVisibility", hidden: "true")))
        #expect(try decode("ChangeRoomDetails",
                           "<MinorAction>ChangePasswordProtected</MinorAction><IsProtected>true</IsProtected><Password> p w </Password>")
                == .changeRoomDetails(ChangeRoomDetailsSpec(minorAction: "ChangePasswordProtected", isProtected: "true", password: " p w ")))
        #expect(try decode("ChangeRoomDetails", "<MinorAction>ChangeUpdatable</MinorAction><Updatable>false</Updatable>")
                == .changeRoomDetails(ChangeRoomDetailsSpec(minorAction: "ChangeUpdatable", updatable: "false")))
        #expect(try decode("ChangeRoomDetails", "") == .changeRoomDetails(ChangeRoomDetailsSpec(minorAction: "")))
        #expect(ClientRequest.changeRoomDetails(ChangeRoomDetailsSpec(minorAction: "")).action == "ChangeRoomDetails")
        #expect(ClientRequest.knownActions.contains("ChangeRoomDetails"))
    }

    @Test func encodesTheSendersAnswer() {
        #expect(encoded(.changeRoomDetailsSuccess) == frame("ChangeRoomDetails", "<Result>Success</Result>"))
        #expect(encoded(.changeRoomDetailsFailure(reason: "Description is too long"))
                == frame("ChangeRoomDetails", "<Result>Failure</Result><Reason>Description is too long</Reason>"))
    }

    @Test func theRoomListPushOfAChangedRoomCarriesItsNewEntry() {
        let room = WireRoom(name: "Fun", users: 3, capacity: 2, passwordProtected: true, description: "new <b>")
        #expect(encoded(.updateRoomList(minorAction: "ChangeRoomDetails", zoneUsers: 4, room: room)) == frame("UpdateRoomList",
            #"<MinorAction>ChangeRoomDetails</MinorAction><Zone users="4"><Rooms><Room Users="3" Capacity="2" PasswordProtected="true" Updatable="true"><Name>Fun</Name><Description>new &lt;b&gt;</Description></Room></Rooms></Zone>"#))
    }
}
