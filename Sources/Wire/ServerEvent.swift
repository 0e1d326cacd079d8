import NIOCore

/// A message from the server to a client (PROTOCOL.md sections 4 and 6).
///
/// Every event encodes as `<XmlDoc><Action>NAME</Action><Parameters>...</Parameters></XmlDoc>`
/// followed by 0x00, with children in exactly the order and spelling of PROTOCOL.md and no white
/// space between elements. Text elements are always written with both tags, even when empty
/// (`<Reason></Reason>`), and so is `Parameters` (`Pong` has `<Parameters></Parameters>`); empty
/// lists are written self-closing (`<Variables/>`, `<Users/>`).
public enum ServerEvent: Sendable, Equatable {
    /// `ConnectionResponse`: `<Result>Accepted</Result><Version Major="3" Minor="2" Sub="0"/>`.
    case connectionAccepted
    /// `ConnectionResponse`: `<Result>Denied</Result><Reason>R</Reason>`.
    case connectionDenied(reason: String)
    /// `RoomList`: `<Zone users="U"><Name>Z</Name><Rooms><Room ...>...</Room>...</Rooms></Zone>`.
    case roomList(zone: String, zoneUsers: Int, rooms: [WireRoom])
    /// `GetRoomsInZone`: the same `Zone` element as ``roomList(zone:zoneUsers:rooms:)``.
    case roomsInZone(zone: String, zoneUsers: Int, rooms: [WireRoom])
    /// `LoginResponse`: `<Result>Accepted</Result><Variables/>`.
    case loginAccepted
    /// `LoginResponse`: `<Result>Denied</Result><Reason>R</Reason>`.
    case loginDenied(reason: String)
    /// `UpdateRoomList`: `<MinorAction>X</MinorAction><Zone users="U"><Rooms><Room ...>...</Room></Rooms></Zone>`.
    case updateRoomList(minorAction: String, zoneUsers: Int, room: WireRoom)
    /// `CreateRoom`: `<Result>Success</Result>`.
    case createRoomSuccess
    /// `CreateRoom`: `<Result>Failure</Result><Reason>R</Reason>`.
    case createRoomFailure(reason: String)
    /// `JoinRoom`: `<Result>Success</Result><Room ...>...</Room><RoomVariables>...</RoomVariables><Users>...</Users>`,
    /// each user with its `AssignedNumber`, its index in `users`.
    case joinRoomSuccess(room: WireRoom, roomVariables: [WireVariable], users: [WireUser])
    /// `JoinRoom`: `<Result>Failure</Result><Reason>R</Reason>`.
    case joinRoomFailure(reason: String)
    /// `UpdateUserList`: `<MinorAction>UserJoined</MinorAction><User><Name>U</Name><UserVariables>...</UserVariables></User>`
    /// (`<User Moderator="true">` for a moderator).
    case userJoined(WireUser)
    /// `UpdateUserList` with `MinorAction` `UserLeft`.
    case userLeft(WireUser)
    /// `SendPublicMessage`: `<Message>T</Message><User>S</User><Variables>...</Variables>`.
    case publicMessage(text: String, sender: String, variables: [WireVariable])
    /// `SendPrivateMessage`, with the parameters of ``publicMessage(text:sender:variables:)``.
    case privateMessage(text: String, sender: String, variables: [WireVariable])
    /// `GetLoggedInUserCount`: `<LoggedInUsers>N</LoggedInUsers>`.
    case loggedInUserCount(Int)
    /// `GetServerTime`: `<ServerTime>MS</ServerTime>`, milliseconds since 1970-01-01 UTC.
    case serverTime(milliseconds: Int64)
    /// `Pong`, with empty parameters.
    case pong
    /// `LeaveRoom`: `<Result>Success</Result>`.
    case leaveRoomSuccess
    /// `LeaveRoom`: `<Result>Failure</Result><Reason>R</Reason>`.
    case leaveRoomFailure(reason: String)
    /// `Logout`: `<Result>Success</Result>`.
    case logoutSuccess
    /// `ModeratorCommand`: `<Result>Success</Result>`.
    case moderatorCommandSuccess
    /// `ChangeRoomDetails`: `<Result>Success</Result>`.
    case changeRoomDetailsSuccess
    /// `ChangeRoomDetails`: `<Result>Failure</Result><Reason>R</Reason>`.
    case changeRoomDetailsFailure(reason: String)
    /// `Kicked`: `<Reason>R</Reason><Moderator>M</Moderator>` (the session then closes).
    case kicked(reason: String, moderator: String)
    /// `Banned`: `<Reason>R</Reason><Moderator>M</Moderator><Expires>E</Expires>` (minutes,
    /// `-1` until `Unban`; the session then closes).
    case banned(reason: String, moderator: String, expires: String)
    /// `Error`: `<Reason>R</Reason><RequestAction>A</RequestAction>`, then `<Detail>D</Detail>` if any.
    case error(reason: String, requestAction: String, detail: String?)

    /// Appends the encoded frame (the document and its 0x00 terminator) to `buffer`.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: estimatedSize)
        XMLWriter.write(into: &buffer) { writer in
            writer.markup("<XmlDoc><Action>")
            writer.markup(actionName)
            writer.markup("</Action><Parameters>")
            writeParameters(&writer)
            writer.markup("</Parameters></XmlDoc>\0")  // with the frame terminator, in the same write
        }
    }

    /// The encoded frame (the document and its 0x00 terminator) in a new buffer.
    public func encoded(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: estimatedSize)
        encode(into: &buffer)
        return buffer
    }

    /// The `Action` this event is sent as.
    private var actionName: StaticString {
        switch self {
        case .connectionAccepted, .connectionDenied: "ConnectionResponse"
        case .roomList: "RoomList"
        case .roomsInZone: "GetRoomsInZone"
        case .loginAccepted, .loginDenied: "LoginResponse"
        case .updateRoomList: "UpdateRoomList"
        case .createRoomSuccess, .createRoomFailure: "CreateRoom"
        case .joinRoomSuccess, .joinRoomFailure: "JoinRoom"
        case .userJoined, .userLeft: "UpdateUserList"
        case .publicMessage: "SendPublicMessage"
        case .privateMessage: "SendPrivateMessage"
        case .loggedInUserCount: "GetLoggedInUserCount"
        case .serverTime: "GetServerTime"
        case .pong: "Pong"
        case .leaveRoomSuccess, .leaveRoomFailure: "LeaveRoom"
        case .logoutSuccess: "Logout"
        case .moderatorCommandSuccess: "ModeratorCommand"
        case .changeRoomDetailsSuccess, .changeRoomDetailsFailure: "ChangeRoomDetails"
        case .kicked: "Kicked"
        case .banned: "Banned"
        case .error: "Error"
        }
    }

    /// Writes the content of the `Parameters` element.
    private func writeParameters(_ writer: inout XMLWriter) {
        switch self {
        case .connectionAccepted:
            writer.markup(#"<Result>Accepted</Result><Version Major="3" Minor="2" Sub="0"/>"#)
        case .loginAccepted:
            writer.markup("<Result>Accepted</Result><Variables/>")
        case .createRoomSuccess, .leaveRoomSuccess, .logoutSuccess, .moderatorCommandSuccess, .changeRoomDetailsSuccess:
            writer.markup("<Result>Success</Result>")
        case .pong:
            break
        case .connectionDenied(let reason), .loginDenied(let reason):
            writer.markup("<Result>Denied</Result>")
            writer.element("Reason", reason)
        case .createRoomFailure(let reason), .joinRoomFailure(let reason), .leaveRoomFailure(let reason),
             .changeRoomDetailsFailure(let reason):
            writer.markup("<Result>Failure</Result>")
            writer.element("Reason", reason)
        case .roomList(let zone, let zoneUsers, let rooms), .roomsInZone(let zone, let zoneUsers, let rooms):
            writer.writeZoneStart(users: zoneUsers)
            writer.element("Name", zone)
            writer.list("Rooms", rooms) { $0.writeListedRoom($1) }
            writer.close("Zone")
        case .updateRoomList(let minorAction, let zoneUsers, let room):
            writer.element("MinorAction", minorAction)
            writer.writeZoneStart(users: zoneUsers)
            writer.open("Rooms")
            writer.writeListedRoom(room)
            writer.markup("</Rooms></Zone>")
        case .joinRoomSuccess(let room, let roomVariables, let users):
            writer.markup("<Result>Success</Result>")
            writer.startTag("Room")
            writer.attribute("Users", room.users)
            writer.attribute("Capacity", room.capacity)
            writer.attribute("PasswordProtected", room.passwordProtected)
            writer.attribute("Hidden", room.hidden)
            writer.finishStartTag()
            writer.element("Name", room.name)
            writer.element("Description", room.description)
            writer.close("Room")
            writer.writeVariables(roomVariables, in: "RoomVariables", item: "RoomVariable")
            writer.list("Users", users.enumerated()) { writer, entry in
                writer.startTag("User")
                writer.attribute("Moderator", entry.element.moderator)
                writer.finishStartTag()
                writer.element("Name", entry.element.name)
                writer.writeVariables(entry.element.variables, in: "UserVariables", item: "UserVariable")
                writer.element("AssignedNumber", entry.offset)
                writer.close("User")
            }
        case .userJoined(let user):
            writer.writeUserListUpdate(minorAction: "UserJoined", user: user)
        case .userLeft(let user):
            writer.writeUserListUpdate(minorAction: "UserLeft", user: user)
        case .publicMessage(let text, let sender, let variables), .privateMessage(let text, let sender, let variables):
            writer.element("Message", text)
            writer.element("User", sender)
            writer.writeVariables(variables, in: "Variables", item: "Variable")
        case .kicked(let reason, let moderator):
            writer.element("Reason", reason)
            writer.element("Moderator", moderator)
        case .banned(let reason, let moderator, let expires):
            writer.element("Reason", reason)
            writer.element("Moderator", moderator)
            writer.element("Expires", expires)
        case .loggedInUserCount(let count):
            writer.element("LoggedInUsers", count)
        case .serverTime(let milliseconds):
            writer.element("ServerTime", milliseconds)
        case .error(let reason, let requestAction, let detail):
            writer.element("Reason", reason)
            writer.element("RequestAction", requestAction)
            if let detail { writer.element("Detail", detail) }
        }
    }

    /// An upper bound for most encodings: fixed markup plus the user-supplied text (escaping may
    /// still grow it; the buffer then simply grows).
    private var estimatedSize: Int {
        let markup = 160
        switch self {
        case .publicMessage(let text, let sender, let variables), .privateMessage(let text, let sender, let variables):
            return markup + text.utf8.count + sender.utf8.count + variables.estimatedSize
        case .roomList(_, _, let rooms), .roomsInZone(_, _, let rooms):
            return markup + rooms.reduce(0) { $0 + 128 + $1.name.utf8.count + $1.description.utf8.count }
        case .joinRoomSuccess(let room, let roomVariables, let users):
            return markup + room.description.utf8.count + roomVariables.estimatedSize
                + users.reduce(0) { $0 + 128 + $1.name.utf8.count + $1.variables.estimatedSize }
        case .updateRoomList(_, _, let room):
            return markup + 128 + room.name.utf8.count + room.description.utf8.count
        default:
            return markup + 64
        }
    }
}

extension [WireVariable] {
    /// Bytes the variables take when encoded, roughly.
    fileprivate var estimatedSize: Int {
        reduce(0) { $0 + 64 + $1.name.utf8.count + $1.data.utf8.count }
    }
}

extension XMLWriter {
    /// `<Zone users="U">`
    fileprivate mutating func writeZoneStart(users: Int) {
        startTag("Zone")
        attribute("users", users)
        finishStartTag()
    }

    /// A room as listed in `RoomList`, `GetRoomsInZone` and `UpdateRoomList`:
    /// `<Room Users= Capacity= PasswordProtected= Updatable=><Name/><Description/></Room>`.
    fileprivate mutating func writeListedRoom(_ room: WireRoom) {
        startTag("Room")
        attribute("Users", room.users)
        attribute("Capacity", room.capacity)
        attribute("PasswordProtected", room.passwordProtected)
        attribute("Updatable", room.updatable)
        finishStartTag()
        element("Name", room.name)
        element("Description", room.description)
        close("Room")
    }

    /// The parameters of `UpdateUserList`:
    /// `<MinorAction>X</MinorAction><User><Name>U</Name><UserVariables>...</UserVariables></User>`,
    /// the `User` element with `Moderator="true"` for a moderator (PROTOCOL.md section 5).
    fileprivate mutating func writeUserListUpdate(minorAction: StaticString, user: WireUser) {
        markup("<MinorAction>")
        markup(minorAction)
        markup(user.moderator ? #"</MinorAction><User Moderator="true">"# : "</MinorAction><User>")
        element("Name", user.name)
        writeVariables(user.variables, in: "UserVariables", item: "UserVariable")
        close("User")
    }

    /// `<container><item><Name>N</Name><Data>D</Data></item>...</container>`, or `<container/>`.
    fileprivate mutating func writeVariables(_ variables: [WireVariable], in container: StaticString, item: StaticString) {
        list(container, variables) { writer, variable in
            writer.open(item)
            writer.element("Name", variable.name)
            writer.element("Data", variable.data)
            writer.close(item)
        }
    }
}
