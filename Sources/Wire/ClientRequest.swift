import NIOCore

/// A request from a client (PROTOCOL.md section 4), decoded from one frame.
public enum ClientRequest: Sendable, Equatable {
    case login(name: String, password: String, variables: [WireVariable])
    /// `AdminLogin`: a moderator's login (PROTOCOL.md section 5).
    case adminLogin(name: String, password: String)
    /// `ModeratorCommand`: `Kick`, `Ban` or `Unban` (as sent in `MinorAction`) of `userName`.
    case moderatorCommand(ModeratorCommandSpec)
    /// `ChangeRoomDetails`: one change (`MinorAction`) to the sender's current room.
    case changeRoomDetails(ChangeRoomDetailsSpec)
    case createRoom(zone: String, room: RoomSpec)
    case joinRoom(zone: String, room: String, password: String)
    case leaveRoom
    case logout
    case publicMessage(text: String, variables: [WireVariable])
    case privateMessage(to: [String], text: String, variables: [WireVariable])
    case getLoggedInUserCount
    case getServerTime
    case getRoomsInZone(zone: String)
    case ping
    /// Any other action, spelled as received.
    case unknown(action: String)

    /// The canonical action name (e.g. `JoinRoom`), or the received spelling for ``unknown(action:)``.
    /// This is what an `Error` response carries as `RequestAction`.
    public var action: String {
        switch self {
        case .login: RequestAction.login.rawValue
        case .adminLogin: RequestAction.adminLogin.rawValue
        case .moderatorCommand: RequestAction.moderatorCommand.rawValue
        case .changeRoomDetails: RequestAction.changeRoomDetails.rawValue
        case .createRoom: RequestAction.createRoom.rawValue
        case .joinRoom: RequestAction.joinRoom.rawValue
        case .leaveRoom: RequestAction.leaveRoom.rawValue
        case .logout: RequestAction.logout.rawValue
        case .publicMessage: RequestAction.sendPublicMessage.rawValue
        case .privateMessage: RequestAction.sendPrivateMessage.rawValue
        case .getLoggedInUserCount: RequestAction.getLoggedInUserCount.rawValue
        case .getServerTime: RequestAction.getServerTime.rawValue
        case .getRoomsInZone: RequestAction.getRoomsInZone.rawValue
        case .ping: RequestAction.ping.rawValue
        case .unknown(let action): action
        }
    }

    /// Every action the decoder understands, spelled canonically (the decoder's own table,
    /// ``RequestAction``): any other action decodes as ``unknown(action:)``. docs/protocol.md
    /// documents exactly these.
    public static var knownActions: [String] {
        RequestAction.allCases.map(\.rawValue)
    }

    /// Decodes one frame: `<XmlDoc><Action>NAME</Action><Parameters>...</Parameters></XmlDoc>`.
    ///
    /// Element names and the action are matched ignoring ASCII letter case; the action is trimmed
    /// of white space. A missing `Parameters` element counts as empty, missing parameters as empty
    /// strings, and unknown elements are ignored. Values that clients may fill with markup
    /// (`Message`, `Description`, `Data`) keep it: such a value is the element's content
    /// re-serialized in document order, white space included (`Hello <b>World</b>!` stays
    /// `Hello <b>World</b>!`; see ``XMLWriter/content(of:)``).
    ///
    /// - Throws: ``RequestDecodeError`` if the frame is not well-formed XML within `limits`, its
    ///   root is not `XmlDoc`, or it has no non-empty `Action`.
    public static func decode(_ frame: ByteBuffer, limits: XMLLimits = XMLLimits()) throws(RequestDecodeError)
        -> ClientRequest
    {
        let root: XMLElement
        do throws(XMLParseError) {
            root = try XMLReader.parse(frame, limits: limits)
        } catch {
            throw RequestDecodeError(.malformedXML(error))
        }
        guard root.name.equalsIgnoringASCIICase("XmlDoc") else {
            throw RequestDecodeError(.notAnEnvelope(rootName: root.name))
        }
        let action = root.child("Action").map { String($0.text.trimmingXMLWhitespace) } ?? ""
        guard !action.isEmpty else { throw RequestDecodeError(.missingAction) }
        guard let known = RequestAction(matching: action) else { return .unknown(action: action) }
        return decode(known, parameters: root.child("Parameters") ?? XMLElement(name: "Parameters"))
    }

    private static func decode(_ action: RequestAction, parameters: XMLElement) -> ClientRequest {
        switch action {
        case .login:
            return .login(
                name: parameters.childText("Name"),
                password: parameters.childText("Password"),
                variables: parameters.variables(in: "UserVariables", item: "UserVariable")
            )
        case .adminLogin:
            return .adminLogin(name: parameters.childText("Name"), password: parameters.childText("Password"))
        case .moderatorCommand:
            return .moderatorCommand(ModeratorCommandSpec(
                minorAction: String(parameters.childText("MinorAction").trimmingXMLWhitespace),
                userName: parameters.childText("UserName"),
                reason: parameters.childValue("Reason"),
                expires: String(parameters.childText("Expires").trimmingXMLWhitespace),
                address: parameters.child("Address").map { String($0.text.trimmingXMLWhitespace).equalsIgnoringASCIICase("true") } ?? false
            ))
        case .changeRoomDetails:
            return .changeRoomDetails(ChangeRoomDetailsSpec(
                minorAction: String(parameters.childText("MinorAction").trimmingXMLWhitespace),
                description: parameters.childValue("Description"),
                capacity: String(parameters.childText("Capacity").trimmingXMLWhitespace),
                hidden: String(parameters.childText("Hidden").trimmingXMLWhitespace),
                isProtected: String(parameters.childText("IsProtected").trimmingXMLWhitespace),
                password: parameters.childText("Password"),
                updatable: String(parameters.childText("Updatable").trimmingXMLWhitespace)
            ))
        case .createRoom:
            let zone = parameters.child("Zone")
            let room = zone?.child("Room") ?? XMLElement(name: "Room")
            return .createRoom(
                zone: zone?.childText("Name") ?? "",
                room: RoomSpec(
                    name: room.childText("Name"),
                    password: room.childText("Password"),
                    description: room.childValue("Description"),
                    capacity: Int(room.childText("Capacity").trimmingXMLWhitespace) ?? -1,
                    hidden: room.booleanAttribute("Hidden") ?? false,
                    updatable: room.booleanAttribute("Updatable") ?? true
                )
            )
        case .joinRoom:
            let zone = parameters.child("Zone")
            let room = zone?.child("Room")
            return .joinRoom(
                zone: zone?.childText("Name") ?? "",
                room: room?.childText("Name") ?? "",
                password: room?.childText("Password") ?? ""
            )
        case .leaveRoom:
            return .leaveRoom
        case .logout:
            return .logout
        case .sendPublicMessage:
            return .publicMessage(
                text: parameters.childValue("Message"),
                variables: parameters.variables(in: "Variables", item: "Variable")
            )
        case .sendPrivateMessage:
            return .privateMessage(
                to: parameters.child("Users")?.children(named: "User").map(\.text) ?? [],
                text: parameters.childValue("Message"),
                variables: parameters.variables(in: "Variables", item: "Variable")
            )
        case .getLoggedInUserCount:
            return .getLoggedInUserCount
        case .getServerTime:
            return .getServerTime
        case .getRoomsInZone:
            let zone = parameters.child("Zone")
            return .getRoomsInZone(zone: zone.map { $0.child("Name")?.text ?? $0.text } ?? "")
        case .ping:
            return .ping
        }
    }
}

/// The request actions the server understands, spelled canonically.
enum RequestAction: String, CaseIterable {
    case login = "Login"
    case createRoom = "CreateRoom"
    case joinRoom = "JoinRoom"
    case leaveRoom = "LeaveRoom"
    case logout = "Logout"
    case sendPublicMessage = "SendPublicMessage"
    case sendPrivateMessage = "SendPrivateMessage"
    case getLoggedInUserCount = "GetLoggedInUserCount"
    case getServerTime = "GetServerTime"
    case getRoomsInZone = "GetRoomsInZone"
    case ping = "Ping"
    case adminLogin = "AdminLogin"
    case moderatorCommand = "ModeratorCommand"
    case changeRoomDetails = "ChangeRoomDetails"

    /// The action spelled `spelling` in any ASCII letter case.
    init?(matching spelling: String) {
        guard let action = Self.allCases.first(where: { $0.rawValue.equalsIgnoringASCIICase(spelling) }) else {
            return nil
        }
        self = action
    }
}

extension XMLElement {
    /// The text of the first child named `name`, or "" if there is none.
    fileprivate func childText(_ name: String) -> String {
        child(name)?.text ?? ""
    }

    /// The value of the first child named `name` (see ``value``), or "" if there is none.
    fileprivate func childValue(_ name: String) -> String {
        child(name)?.value ?? ""
    }

    /// The element's text; or, if it holds child elements (a client put raw markup such as WDDX
    /// or HTML-ish tags there), its content re-serialized in document order, so that nothing is
    /// lost or moved. The markup then stays escaped as markup: `a &amp; <b>b</b>` is that string.
    fileprivate var value: String {
        guard !children.isEmpty else { return text }
        var writer = XMLWriter(buffer: ByteBuffer())
        writer.content(of: self)
        return String(buffer: writer.buffer)
    }

    /// The `<item><Name>N</Name><Data>D</Data></item>` entries of the child named `container`.
    fileprivate func variables(in container: String, item: String) -> [WireVariable] {
        guard let list = child(container) else { return [] }
        return list.children(named: item).map { WireVariable(name: $0.childText("Name"), data: $0.childValue("Data")) }
    }

    /// The attribute `name` read as a boolean (`true` / `false`, any letter case, surrounding white
    /// space allowed); nil if missing or anything else.
    fileprivate func booleanAttribute(_ name: String) -> Bool? {
        guard let raw = attribute(name)?.trimmingXMLWhitespace else { return nil }
        let value = String(raw)
        if value.equalsIgnoringASCIICase("true") { return true }
        if value.equalsIgnoringASCIICase("false") { return false }
        return nil
    }
}
