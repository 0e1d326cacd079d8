import NIOCore
import Testing
import Wire

@Suite struct ClientRequestTests {
    private func decode(_ frame: String, limits: XMLLimits = XMLLimits()) throws(RequestDecodeError) -> ClientRequest {
        try ClientRequest.decode(ByteBuffer(string: frame), limits: limits)
    }

    private func request(_ action: String, _ parameters: String) throws(RequestDecodeError) -> ClientRequest {
        try decode("<XmlDoc><Action>\(action)</Action><Parameters>\(parameters)</Parameters></XmlDoc>")
    }

    @Test func decodesLogin() throws {
        let frame = """
            <?xml version="1.0"?>
            <XmlDoc>
              <Action>Login</Action>
              <Parameters>
                <Name>Alice</Name><Password>s3cret &amp; more</Password>
                <UserVariables>
                  <UserVariable><Name>color</Name><Data>red</Data></UserVariable>
                  <UserVariable><Name>age</Name><Data><![CDATA[<42>]]></Data></UserVariable>
                </UserVariables>
              </Parameters>
            </XmlDoc>
            """
        #expect(
            try decode(frame)
                == .login(
                    name: "Alice",
                    password: "s3cret & more",
                    variables: [WireVariable(name: "color", data: "red"), WireVariable(name: "age", data: "<42>")]
                )
        )
        #expect(try request("Login", "<Name>Bob</Name><Password/><UserVariables/>") == .login(name: "Bob", password: "", variables: []))
    }

    @Test func decodesAFrameOpeningWithAByteOrderMark() throws {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        let ping = Array("<XmlDoc><Action>Ping</Action></XmlDoc>".utf8)
        #expect(try ClientRequest.decode(ByteBuffer(bytes: bom + ping)) == .ping)
        #expect(try ClientRequest.decode(ByteBuffer(bytes: bom + Array("<?xml version=\"1.0\"?>\n".utf8) + ping)) == .ping)
        #expect(throws: RequestDecodeError(.malformedXML(XMLParseError(.contentOutsideRootElement, at: 1)))) {
            try ClientRequest.decode(ByteBuffer(bytes: Array("\n".utf8) + bom + ping))
        }
    }

    @Test func decodesARequestAfterAByteOrderMark() throws {
        let frame = ByteBuffer(bytes: [0xEF, 0xBB, 0xBF] + Array("<?xml version=\"1.0\"?><XmlDoc><Action>Ping</Action></XmlDoc>".utf8))
        #expect(try ClientRequest.decode(frame) == .ping)
    }

    @Test func decodesCreateRoomWithEveryPart() throws {
        let parameters = """
            <Zone><Name>Chat</Name><Room Hidden="true" Updatable="false" Numbered="false" FloodingFilterEnabled="true" UserVariablesEnabled="false">\
            <Name>Lobby</Name><Password>pw</Password><Description>Welcome!</Description>\
            <Capacity> 25 </Capacity><RoomVariables/><Plugins><Plugin/></Plugins></Room></Zone>
            """
        #expect(
            try request("CreateRoom", parameters)
                == .createRoom(
                    zone: "Chat",
                    room: RoomSpec(name: "Lobby", password: "pw", description: "Welcome!", capacity: 25, hidden: true, updatable: false)
                )
        )
    }

    @Test func createRoomDefaultsMissingParts() throws {
        #expect(try request("CreateRoom", "<Zone><Room><Name>R</Name></Room></Zone>") == .createRoom(zone: "", room: RoomSpec(name: "R")))
        #expect(
            try request("CreateRoom", "<Zone><Name>Z</Name><Room Hidden='maybe' Updatable='TRUE'><Name>R</Name><Capacity>lots</Capacity></Room></Zone>")
                == .createRoom(zone: "Z", room: RoomSpec(name: "R", capacity: -1, hidden: false, updatable: true))
        )
        #expect(try request("CreateRoom", "") == .createRoom(zone: "", room: RoomSpec(name: "")))
    }

    @Test func descriptionHoldingMarkupKeepsItReserialized() throws {
        let parameters = """
            <Zone><Name>Z</Name><Room><Name>R</Name><Description><wddxPacket version='1.0'><header/>\
            <data><string>a &amp; b</string></data></wddxPacket></Description></Room></Zone>
            """
        guard case .createRoom(_, let room) = try request("CreateRoom", parameters) else {
            Issue.record("not a createRoom")
            return
        }
        #expect(room.description == #"<wddxPacket version="1.0"><header/><data><string>a &amp; b</string></data></wddxPacket>"#)
    }

    @Test func decodesJoinRoom() throws {
        let parameters = "<Zone><Name>Chat</Name><Room><Name>Lobby</Name><Password>pw</Password><Numbered>true</Numbered></Room></Zone>"
        #expect(try request("JoinRoom", parameters) == .joinRoom(zone: "Chat", room: "Lobby", password: "pw"))
        #expect(try request("JoinRoom", "<Zone><Room><Name>Lobby</Name></Room></Zone>") == .joinRoom(zone: "", room: "Lobby", password: ""))
    }

    @Test func acceptsAnyLetterCaseInActionAndElementNames() throws {
        let frame = "<xmldoc><action> joinroom </action><parameters><zone><name>Chat</name><room><name>Lobby</name><PASSWORD>pw</PASSWORD></room></zone></parameters></xmldoc>"
        #expect(try decode(frame) == .joinRoom(zone: "Chat", room: "Lobby", password: "pw"))
        #expect(try decode("<XMLDOC><ACTION>PING</ACTION></XMLDOC>") == .ping)
    }

    @Test func decodesActionsWithoutParameters() throws {
        #expect(try request("LeaveRoom", "") == .leaveRoom)
        #expect(try request("Logout", "") == .logout)
        #expect(try request("GetLoggedInUserCount", "") == .getLoggedInUserCount)
        #expect(try request("GetServerTime", "") == .getServerTime)
        #expect(try decode("<XmlDoc><Action>Ping</Action><Parameters/></XmlDoc>") == .ping)
        #expect(try decode("<XmlDoc><Action>Ping</Action></XmlDoc>") == .ping)
    }

    @Test func decodesPublicMessage() throws {
        let parameters = """
            <Message>hi &lt;all&gt; ]]&gt;</Message><Variables><Variable><Name>font</Name><Data>Arial</Data></Variable>\
            <Variable><Name>size</Name><Data>12</Data></Variable></Variables><Unknown>ignored</Unknown>
            """
        #expect(
            try request("SendPublicMessage", parameters)
                == .publicMessage(
                    text: "hi <all> ]]>",
                    variables: [WireVariable(name: "font", data: "Arial"), WireVariable(name: "size", data: "12")]
                )
        )
        #expect(try request("SendPublicMessage", "<Message><![CDATA[<b>x</b>]]></Message>") == .publicMessage(text: "<b>x</b>", variables: []))
        #expect(try request("sendpublicmessage", "<Message>  spaced  </Message>") == .publicMessage(text: "  spaced  ", variables: []))
    }

    @Test func messageHoldingMarkupKeepsItReserialized() throws {
        #expect(try request("SendPublicMessage", "<Message><b>bold</b></Message>") == .publicMessage(text: "<b>bold</b>", variables: []))
        let withData = "<Message>m</Message><Variables><Variable><Name>v</Name><Data><i x='1'>y</i></Data></Variable></Variables>"
        #expect(try request("SendPublicMessage", withData) == .publicMessage(text: "m", variables: [WireVariable(name: "v", data: #"<i x="1">y</i>"#)]))
    }

    @Test func mixedContentInMessagesIsKeptInDocumentOrder() throws {
        let cases: [(sent: String, value: String)] = [
            ("Hello <b>World</b>!", "Hello <b>World</b>!"),
            ("<b>bold</b> and <i>italic</i>", "<b>bold</b> and <i>italic</i>"),
            (" <b>x</b> ", " <b>x</b> "),
            ("<font color='#FF0000'>red <b>bold</b> text</font>!", ##"<font color="#FF0000">red <b>bold</b> text</font>!"##),
            ("a &amp; <b>b&lt;</b> <![CDATA[<c>]]><!-- gone -->", "a &amp; <b>b&lt;</b> &lt;c&gt;"),
            ("line&#13;\n<br/>next<BR></BR>", "line&#13;\n<br/>next<BR/>"),
        ]
        for (sent, value) in cases {
            #expect(try request("SendPublicMessage", "<Message>\(sent)</Message>") == .publicMessage(text: value, variables: []), "\(sent)")
            #expect(try request("SendPrivateMessage", "<Users><User>b</User></Users><Message>\(sent)</Message>") == .privateMessage(to: ["b"], text: value, variables: []))
            let variable = "<Message>m</Message><Variables><Variable><Name>v</Name><Data>\(sent)</Data></Variable></Variables>"
            #expect(try request("SendPublicMessage", variable) == .publicMessage(text: "m", variables: [WireVariable(name: "v", data: value)]))
            let room = "<Zone><Room><Name>R</Name><Description>\(sent)</Description></Room></Zone>"
            #expect(try request("CreateRoom", room) == .createRoom(zone: "", room: RoomSpec(name: "R", description: value)))
            // The value is canonical: sent again as markup, it decodes to itself.
            #expect(try request("SendPublicMessage", "<Message>\(value)</Message>") == .publicMessage(text: value, variables: []))
        }
    }

    @Test func mixedContentReachesTheOtherClientsAsTheTextOfMessage() throws {
        guard case .publicMessage(let text, _) = try request("SendPublicMessage", "<Message>Hello <b>World</b>!</Message>") else {
            Issue.record("not a publicMessage")
            return
        }
        let encoded = ServerEvent.publicMessage(text: text, sender: "alice", variables: []).encoded()
        #expect(String(buffer: encoded).contains("<Message>Hello &lt;b&gt;World&lt;/b&gt;!</Message>"))
        let message = try #require(XMLReader.parse(document(of: encoded)).child("Parameters")?.child("Message"))
        #expect(message.text == "Hello <b>World</b>!")
        #expect(message.children.isEmpty)
    }

    @Test func mixedContentWithManyChildrenDecodesInLinearTime() throws {
        let count = 10_000
        let sent = String(repeating: "x<b/>", count: count)
        let decoded = try request("SendPublicMessage", "<Message>\(sent)</Message>")
        #expect(decoded == .publicMessage(text: sent, variables: []))
    }

    @Test func decodesPrivateMessage() throws {
        let parameters = "<Users><User>Bob</User><User>Carol</User></Users><Message>psst</Message><Variables/>"
        #expect(try request("SendPrivateMessage", parameters) == .privateMessage(to: ["Bob", "Carol"], text: "psst", variables: []))
        #expect(try request("SendPrivateMessage", "<Message>x</Message>") == .privateMessage(to: [], text: "x", variables: []))
    }

    @Test func decodesGetRoomsInZone() throws {
        #expect(try request("GetRoomsInZone", "<Zone>Chat</Zone>") == .getRoomsInZone(zone: "Chat"))
        #expect(try request("GetRoomsInZone", "<Zone><Name>Games</Name></Zone>") == .getRoomsInZone(zone: "Games"))
        #expect(try request("GetRoomsInZone", "") == .getRoomsInZone(zone: ""))
    }

    @Test func unknownActionIsReportedAsReceived() throws {
        #expect(try request("DanceParty", "<Anything/>") == .unknown(action: "DanceParty"))
        #expect(try request("ChangeRoomFurniture", "") == .unknown(action: "ChangeRoomFurniture"))
        #expect(ClientRequest.unknown(action: "DanceParty").action == "DanceParty")
    }

    @Test func actionNamesAreCanonical() throws {
        #expect(try request("joinroom", "").action == "JoinRoom")
        #expect(try request("SENDPUBLICMESSAGE", "").action == "SendPublicMessage")
        #expect(try request("sendprivatemessage", "").action == "SendPrivateMessage")
        #expect(try request("login", "").action == "Login")
        #expect(try request("createroom", "").action == "CreateRoom")
        #expect(try request("leaveroom", "").action == "LeaveRoom")
        #expect(try request("logout", "").action == "Logout")
        #expect(try request("getloggedinusercount", "").action == "GetLoggedInUserCount")
        #expect(try request("getservertime", "").action == "GetServerTime")
        #expect(try request("getroomsinzone", "").action == "GetRoomsInZone")
        #expect(try request("ping", "").action == "Ping")
    }

    @Test func malformedEnvelopesThrow() {
        func reason(_ frame: String) -> RequestDecodeError.Reason? {
            do {
                _ = try decode(frame)
                return nil
            } catch {
                return error.reason
            }
        }
        #expect(reason("<XmlDoc><Action>Ping</Action>") == .malformedXML(XMLParseError(.unexpectedEnd, at: 29)))
        #expect(reason("<Envelope><Action>Ping</Action></Envelope>") == .notAnEnvelope(rootName: "Envelope"))
        #expect(reason("<XmlDoc><Parameters/></XmlDoc>") == .missingAction)
        #expect(reason("<XmlDoc><Action> </Action></XmlDoc>") == .missingAction)
        #expect(reason("<XmlDoc><Parameters><Action>Ping</Action></Parameters></XmlDoc>") == .missingAction)
        #expect(reason("<!DOCTYPE x><XmlDoc><Action>Ping</Action></XmlDoc>") == .malformedXML(XMLParseError(.doctypeNotAllowed, at: 0)))
    }

    @Test func referencesToForbiddenCharactersMakeTheFrameMalformed() {
        for reference in ["&#0;", "&#31;", "&#x1F;", "&#xFFFE;", "&#xD800;"] {
            for frame in [
                "<XmlDoc><Action>Login</Action><Parameters><Name>a\(reference)b</Name></Parameters></XmlDoc>",
                "<XmlDoc><Action>SendPublicMessage</Action><Parameters><Message>\(reference)</Message></Parameters></XmlDoc>",
                "<XmlDoc><Action>CreateRoom</Action><Parameters><Zone><Room Hidden='\(reference)'><Name>R</Name></Room></Zone></Parameters></XmlDoc>",
            ] {
                do {
                    _ = try decode(frame)
                    Issue.record("\(frame) was accepted")
                } catch {
                    guard case .malformedXML(let parseError) = error.reason else {
                        Issue.record("\(frame): \(error)")
                        continue
                    }
                    #expect(parseError.reason == .illegalCharacter, "\(frame)")
                }
            }
        }
    }

    @Test func limitsApply() {
        let deep = "<XmlDoc><Action>Ping</Action><Parameters><a><b/></a></Parameters></XmlDoc>"
        #expect(throws: RequestDecodeError(.malformedXML(XMLParseError(.tooDeep, at: 44)))) {
            try decode(deep, limits: XMLLimits(maxDepth: 3))
        }
        #expect(throws: Never.self) { try decode(deep, limits: XMLLimits(maxDepth: 4)) }
    }

    @Test func errorsDescribeThemselves() {
        #expect(RequestDecodeError(.missingAction).description.contains("Action"))
        #expect(RequestDecodeError(.notAnEnvelope(rootName: "Foo")).description.contains("Foo"))
        #expect(RequestDecodeError(.malformedXML(XMLParseError(.tooDeep, at: 7))).description.contains("tooDeep"))
    }
}
