import NIOCore
import Testing

import Wire

/// PROTOCOL.md section 5, Moderation, on the wire: AdminLogin and ModeratorCommand decoded,
/// Kicked, Banned and ModeratorCommand encoded with the exact element names and order, and
/// moderators marked in user-list updates.
@Suite struct ModerationWireTests {
    private func decode(_ action: String, _ parameters: String) throws -> ClientRequest {
        try ClientRequest.decode(ByteBuffer(string: "<XmlDoc><Action>\(action)</Action><Parameters>\(parameters)</Parameters></XmlDoc>"))
    }

    private func frame(_ action: String, _ parameters: String) -> String {
        "<XmlDoc><Action>\(action)</Action><Parameters>\(parameters)</Parameters></XmlDoc>\0"
    }

    private func encoded(_ event: ServerEvent) -> String { String(buffer: event.encoded()) }

    @Test func decodesAdminLogin() throws {
        #expect(try decode("adminlogin", "<Name>Mod</Name><Password> s3cret </Password>") == .adminLogin(name: "Mod", password: " s3cret "))
        #expect(try decode("AdminLogin", "") == .adminLogin(name: "", password: ""))
        #expect(ClientRequest.adminLogin(name: "", password: "").action == "AdminLogin")
    }

    @Test func decodesModeratorCommands() throws {
        #expect(try decode("ModeratorCommand", "<MinorAction> Kick </MinorAction><UserName>bob</UserName><Reason>spam &amp; <b>more</b></Reason>")
                == .moderatorCommand(ModeratorCommandSpec(minorAction: "Kick", userName: "bob", reason: "spam &amp; <b>more</b>")))
        #expect(try decode("moderatorcommand", "<MinorAction>Ban</MinorAction><UserName>bob</UserName><Reason>r</Reason><Expires> 30 </Expires><Address> TRUE </Address>")
                == .moderatorCommand(ModeratorCommandSpec(minorAction: "Ban", userName: "bob", reason: "r", expires: "30", address: true)))
        #expect(try decode("ModeratorCommand", "<MinorAction>Ban</MinorAction><UserName>bob</UserName><Address>yes</Address>")
                == .moderatorCommand(ModeratorCommandSpec(minorAction: "Ban", userName: "bob", address: false)))
        #expect(try decode("ModeratorCommand", "<MinorAction>Unban</MinorAction><UserName>bob</UserName>")
                == .moderatorCommand(ModeratorCommandSpec(minorAction: "Unban", userName: "bob")))
        #expect(ClientRequest.moderatorCommand(ModeratorCommandSpec(minorAction: "", userName: "")).action == "ModeratorCommand")
        #expect(ClientRequest.knownActions.contains("AdminLogin") && ClientRequest.knownActions.contains("ModeratorCommand"))
    }

    @Test func encodesKickedBannedAndTheModeratorsSuccess() {
        #expect(encoded(.kicked(reason: "spam <b>", moderator: "Mod"))
                == frame("Kicked", "<Reason>spam &lt;b&gt;</Reason><Moderator>Mod</Moderator>"))
        #expect(encoded(.banned(reason: "", moderator: "Mod", expires: "-1"))
                == frame("Banned", "<Reason></Reason><Moderator>Mod</Moderator><Expires>-1</Expires>"))
        #expect(encoded(.moderatorCommandSuccess) == frame("ModeratorCommand", "<Result>Success</Result>"))
        #expect(encoded(.connectionDenied(reason: "Address is banned"))
                == frame("ConnectionResponse", "<Result>Denied</Result><Reason>Address is banned</Reason>"))
    }

    @Test func moderatorsAreMarkedInUserListUpdatesAndJoinRoom() {
        let moderator = WireUser(name: "Mod", moderator: true)
        #expect(encoded(.userJoined(moderator))
                == frame("UpdateUserList", #"<MinorAction>UserJoined</MinorAction><User Moderator="true"><Name>Mod</Name><UserVariables/></User>"#))
        #expect(encoded(.userLeft(moderator))
                == frame("UpdateUserList", #"<MinorAction>UserLeft</MinorAction><User Moderator="true"><Name>Mod</Name><UserVariables/></User>"#))
        #expect(encoded(.userJoined(WireUser(name: "bob")))
                == frame("UpdateUserList", "<MinorAction>UserJoined</MinorAction><User><Name>bob</Name><UserVariables/></User>"))
        let room = WireRoom(name: "R", users: 2)
        #expect(encoded(.joinRoomSuccess(room: room, roomVariables: [], users: [moderator, WireUser(name: "bob")])).contains(
            #"<Users><User Moderator="true"><Name>Mod</Name><UserVariables/><AssignedNumber>0</AssignedNumber></User><User Moderator="false"><Name>bob</Name>"#))
    }
}
