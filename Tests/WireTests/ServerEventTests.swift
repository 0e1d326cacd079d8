import NIOCore
import Testing

import Wire

@Suite struct ServerEventTests {
    private let lobby = WireRoom(
        name: "Lobby", users: 3, capacity: -1, passwordProtected: false, hidden: false, updatable: true, description: "Welcome"
    )
    private let den = WireRoom(
        name: "Den", users: 1, capacity: 10, passwordProtected: true, hidden: true, updatable: false, description: ""
    )

    /// `<XmlDoc><Action>action</Action><Parameters>parameters</Parameters></XmlDoc>\0`
    private func frame(_ action: String, _ parameters: String) -> String {
        "<XmlDoc><Action>\(action)</Action><Parameters>\(parameters)</Parameters></XmlDoc>\0"
    }

    @Test func connectionResponse() {
        #expect(encodedString(.connectionAccepted) == frame("ConnectionResponse", #"<Result>Accepted</Result><Version Major="3" Minor="2" Sub="0"/>"#))
        #expect(encodedString(.connectionDenied(reason: "Server is full")) == frame("ConnectionResponse", "<Result>Denied</Result><Reason>Server is full</Reason>"))
    }

    @Test func roomListAndGetRoomsInZone() {
        let zone = #"<Zone users="7"><Name>Chat</Name><Rooms>"#
            + #"<Room Users="3" Capacity="-1" PasswordProtected="false" Updatable="true"><Name>Lobby</Name><Description>Welcome</Description></Room>"#
            + #"<Room Users="1" Capacity="10" PasswordProtected="true" Updatable="false"><Name>Den</Name><Description></Description></Room>"#
            + "</Rooms></Zone>"
        #expect(encodedString(.roomList(zone: "Chat", zoneUsers: 7, rooms: [lobby, den])) == frame("RoomList", zone))
        #expect(encodedString(.roomsInZone(zone: "Chat", zoneUsers: 7, rooms: [lobby, den])) == frame("GetRoomsInZone", zone))
        #expect(encodedString(.roomsInZone(zone: "Nowhere", zoneUsers: 0, rooms: [])) == frame("GetRoomsInZone", #"<Zone users="0"><Name>Nowhere</Name><Rooms/></Zone>"#))
    }

    @Test func loginResponse() {
        #expect(encodedString(.loginAccepted) == frame("LoginResponse", "<Result>Accepted</Result><Variables/>"))
        #expect(encodedString(.loginDenied(reason: "Name is already in use")) == frame("LoginResponse", "<Result>Denied</Result><Reason>Name is already in use</Reason>"))
    }

    @Test func updateRoomList() {
        let expected = "<MinorAction>CreateRoom</MinorAction><Zone users=\"4\"><Rooms>"
            + #"<Room Users="3" Capacity="-1" PasswordProtected="false" Updatable="true"><Name>Lobby</Name><Description>Welcome</Description></Room>"#
            + "</Rooms></Zone>"
        #expect(encodedString(.updateRoomList(minorAction: "CreateRoom", zoneUsers: 4, room: lobby)) == frame("UpdateRoomList", expected))
    }

    @Test func createRoom() {
        #expect(encodedString(.createRoomSuccess) == frame("CreateRoom", "<Result>Success</Result>"))
        #expect(encodedString(.createRoomFailure(reason: "Room already exists")) == frame("CreateRoom", "<Result>Failure</Result><Reason>Room already exists</Reason>"))
    }

    @Test func joinRoom() {
        let event = ServerEvent.joinRoomSuccess(
            room: den,
            roomVariables: [WireRoomVariable(name: "topic", data: "cats", persistent: true, locked: false)],
            users: [
                WireUser(name: "Alice", moderator: true, variables: [WireVariable(name: "color", data: "red")]),
                WireUser(name: "Bob"),
            ]
        )
        let expected = "<Result>Success</Result>"
            + #"<Room Users="1" Capacity="10" PasswordProtected="true" Hidden="true"><Name>Den</Name><Description></Description></Room>"#
            + #"<RoomVariables><RoomVariable Persistent="true" Locked="false"><Name>topic</Name><Data>cats</Data></RoomVariable></RoomVariables>"#
            + #"<Users><User Moderator="true"><Name>Alice</Name><UserVariables><UserVariable><Name>color</Name><Data>red</Data></UserVariable></UserVariables><AssignedNumber>0</AssignedNumber></User>"#
            + #"<User Moderator="false"><Name>Bob</Name><UserVariables/><AssignedNumber>1</AssignedNumber></User></Users>"#
        #expect(encodedString(event) == frame("JoinRoom", expected))
        let empty = ServerEvent.joinRoomSuccess(room: lobby, roomVariables: [], users: [])
        let emptyExpected = #"<Result>Success</Result><Room Users="3" Capacity="-1" PasswordProtected="false" Hidden="false"><Name>Lobby</Name><Description>Welcome</Description></Room><RoomVariables/><Users/>"#
        #expect(encodedString(empty) == frame("JoinRoom", emptyExpected))
        #expect(encodedString(.joinRoomFailure(reason: "Room is full")) == frame("JoinRoom", "<Result>Failure</Result><Reason>Room is full</Reason>"))
    }

    @Test func updateUserList() {
        let alice = WireUser(name: "Alice", variables: [WireVariable(name: "c", data: "d")])
        #expect(
            encodedString(.userJoined(alice))
                == frame("UpdateUserList", "<MinorAction>UserJoined</MinorAction><User><Name>Alice</Name><UserVariables><UserVariable><Name>c</Name><Data>d</Data></UserVariable></UserVariables></User>")
        )
        #expect(encodedString(.userLeft(WireUser(name: "Bob"))) == frame("UpdateUserList", "<MinorAction>UserLeft</MinorAction><User><Name>Bob</Name><UserVariables/></User>"))
    }

    @Test func messages() {
        let variables = [WireVariable(name: "font", data: "Arial")]
        let parameters = "<Message>hello</Message><User>Alice</User><Variables><Variable><Name>font</Name><Data>Arial</Data></Variable></Variables>"
        #expect(encodedString(.publicMessage(text: "hello", sender: "Alice", variables: variables)) == frame("SendPublicMessage", parameters))
        #expect(encodedString(.privateMessage(text: "hello", sender: "Alice", variables: variables)) == frame("SendPrivateMessage", parameters))
        #expect(encodedString(.publicMessage(text: "", sender: "A", variables: [])) == frame("SendPublicMessage", "<Message></Message><User>A</User><Variables/>"))
    }

    @Test func countsAndTime() {
        #expect(encodedString(.loggedInUserCount(1234)) == frame("GetLoggedInUserCount", "<LoggedInUsers>1234</LoggedInUsers>"))
        #expect(encodedString(.serverTime(milliseconds: 1_700_000_000_123)) == frame("GetServerTime", "<ServerTime>1700000000123</ServerTime>"))
    }

    @Test func pong() {
        #expect(encodedString(.pong) == "<XmlDoc><Action>Pong</Action><Parameters></Parameters></XmlDoc>\0")
    }

    @Test func leaveRoomAndLogout() {
        #expect(encodedString(.leaveRoomSuccess) == frame("LeaveRoom", "<Result>Success</Result>"))
        #expect(encodedString(.leaveRoomFailure(reason: "Not in a room")) == frame("LeaveRoom", "<Result>Failure</Result><Reason>Not in a room</Reason>"))
        #expect(encodedString(.logoutSuccess) == frame("Logout", "<Result>Success</Result>"))
    }

    @Test func error() {
        #expect(
            encodedString(.error(reason: "User not found", requestAction: "SendPrivateMessage", detail: "Zed"))
                == frame("Error", "<Reason>User not found</Reason><RequestAction>SendPrivateMessage</RequestAction><Detail>Zed</Detail>")
        )
        #expect(encodedString(.error(reason: "Malformed message", requestAction: "", detail: nil)) == frame("Error", "<Reason>Malformed message</Reason><RequestAction></RequestAction>"))
    }

    @Test func carriageReturnsInMessagesAndVariablesArriveAsCarriageReturns() throws {
        let text = "Hello\r\nWorld\r"
        let variables = [WireVariable(name: "v", data: "a\rb")]
        let encoded = ServerEvent.publicMessage(text: text, sender: "Alice", variables: variables).encoded()
        let raw = String(buffer: encoded)
        #expect(raw.contains("<Message>Hello&#13;\nWorld&#13;</Message>"))
        #expect(raw.contains("<Data>a&#13;b</Data>"))
        #expect(!raw.utf8.contains(ASCIIByte.carriageReturn), "no raw CR for a reader to normalize")
        let parameters = try #require(XMLReader.parse(document(of: encoded)).child("Parameters"))
        #expect(Array((parameters.child("Message")?.text ?? "").utf8) == Array(text.utf8))
        #expect(parameters.child("Variables")?.child("Variable")?.child("Data")?.text == "a\rb")
    }

    @Test func userTextCannotBreakTheStructure() throws {
        let hostile = "</Message></Parameters></XmlDoc>\\0<XmlDoc><Action>Logout</Action> & <![CDATA[ ]]> '\"]]>"
        let variables = [WireVariable(name: "</Name>&", data: "]]></Data></Variable>")]
        let encoded = ServerEvent.publicMessage(text: hostile, sender: "<User>&</User>", variables: variables).encoded()
        #expect(encoded.readableBytesView.firstIndex(of: 0) == encoded.writerIndex - 1, "exactly one 0x00, at the end")

        let root = try XMLReader.parse(document(of: encoded))
        #expect(root.child("Action")?.text == "SendPublicMessage")
        let parameters = try #require(root.child("Parameters"))
        #expect(parameters.children.map(\.name) == ["Message", "User", "Variables"])
        #expect(parameters.child("Message")?.text == hostile)
        #expect(parameters.child("User")?.text == "<User>&</User>")
        let variable = try #require(parameters.child("Variables")?.child("Variable"))
        #expect(variable.child("Name")?.text == "</Name>&")
        #expect(variable.child("Data")?.text == "]]></Data></Variable>")
    }

    @Test func aZeroByteInUserTextCannotInjectAFrame() throws {
        let text = "a</XmlDoc>\0<XmlDoc><Action>Logout</Action></XmlDoc>\0"
        let encoded = ServerEvent.publicMessage(text: text, sender: "Mallory", variables: []).encoded()
        #expect(encoded.readableBytesView.firstIndex(of: 0) == encoded.writerIndex - 1, "exactly one 0x00, at the end")
        let root = try XMLReader.parse(document(of: encoded))
        #expect(root.child("Parameters")?.child("Message")?.text == text.replacingZeroBytes())
    }

    @Test func encodeIntoAppendsFramesThatDecodeBack() throws {
        var buffer = ByteBuffer()
        ServerEvent.pong.encode(into: &buffer)
        ServerEvent.publicMessage(text: "x", sender: "y", variables: []).encode(into: &buffer)
        var decoder = FrameDecoder()
        var documents: [String] = []
        while case .document(let document)? = decoder.nextFrame(from: &buffer) {
            documents.append(String(buffer: document))
        }
        #expect(documents == [
            "<XmlDoc><Action>Pong</Action><Parameters></Parameters></XmlDoc>",
            "<XmlDoc><Action>SendPublicMessage</Action><Parameters><Message>x</Message><User>y</User><Variables/></Parameters></XmlDoc>",
        ])
    }

    @Test func encodedMatchesEncodeInto() {
        let event = ServerEvent.roomList(zone: "Chat", zoneUsers: 1, rooms: [lobby])
        var buffer = ByteBuffer()
        event.encode(into: &buffer)
        #expect(event.encoded() == buffer)
    }
}

private enum ASCIIByte {
    static let carriageReturn: UInt8 = 0x0D
}

extension String {
    /// The string with every U+0000 replaced by U+FFFD, as the writer does.
    fileprivate func replacingZeroBytes() -> String {
        String(String.UnicodeScalarView(unicodeScalars.map { $0 == "\0" ? "\u{FFFD}" : $0 }))
    }
}
