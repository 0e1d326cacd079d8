import NIOCore
import Wire

/// One frame received from a node: the raw document (terminator excluded) and its parse.
public struct Frame: CustomStringConvertible {
    /// The document as received, decoded as UTF-8.
    public let raw: String
    /// The parsed document, or nil if it was not well-formed XML.
    public let root: XMLElement?

    public init(bytes: [UInt8]) {
        raw = String(decoding: bytes, as: UTF8.self)
        root = try? XMLReader.parse(ByteBuffer(bytes: bytes))
    }

    public var description: String { raw }

    /// The text of `Action`, or "" if the frame has none.
    public var action: String { root?.child("Action")?.text ?? "" }

    /// The `Parameters` element (empty if missing).
    public var parameters: XMLElement { root?.child("Parameters") ?? XMLElement(name: "Parameters") }

    /// The text of the child `name` of `Parameters`, or nil if there is none.
    public func param(_ name: String) -> String? { parameters.child(name)?.text }

    public var result: String? { param("Result") }
    public var reason: String? { param("Reason") }
    public var minorAction: String? { param("MinorAction") }

    /// For `RoomList`, `GetRoomsInZone` and `UpdateRoomList`: the `Zone` element.
    public var zone: XMLElement? { parameters.child("Zone") }

    /// For `RoomList`, `GetRoomsInZone` and `UpdateRoomList`: the rooms listed.
    public var rooms: [RoomInfo] {
        (zone?.child("Rooms")?.children(named: "Room") ?? []).map(RoomInfo.init)
    }

    /// For `JoinRoom` success: the members in the order sent.
    public var users: [UserInfo] {
        (parameters.child("Users")?.children(named: "User") ?? []).map(UserInfo.init)
    }

    /// For `UpdateUserList`: the name of the user who joined or left.
    public var userName: String? { parameters.child("User")?.child("Name")?.text }

    /// For `SendPublicMessage` / `SendPrivateMessage`: text, sender and variables.
    public var message: String? { param("Message") }
    public var sender: String? { param("User") }
    public var variables: [(name: String, data: String)] {
        (parameters.child("Variables")?.children(named: "Variable") ?? []).map {
            (name: $0.child("Name")?.text ?? "", data: $0.child("Data")?.text ?? "")
        }
    }

    /// True if this is a (possibly coalesced) `UpdateRoomList ChangeRoomDetails` count update.
    public var isCountUpdate: Bool { action == "UpdateRoomList" && minorAction == "ChangeRoomDetails" }
}

/// Frame predicates for ``TestClient/expectInAnyOrder(_:timeout:sourceLocation:)``.
public func action(_ action: String, minor: String? = nil, result: String? = nil) -> (description: String, matches: (Frame) -> Bool) {
    let description = [action, minor, result].compactMap { $0 }.joined(separator: " ")
    return (description, { frame in
        frame.action == action && (minor == nil || frame.minorAction == minor) && (result == nil || frame.result == result)
    })
}

/// A `Room` element of a room list or `JoinRoom`.
public struct RoomInfo: Equatable {
    public var name: String
    public var users: Int?
    public var capacity: Int?
    public var passwordProtected: String?
    public var updatable: String?
    public var hidden: String?
    public var roomDescription: String?
    /// The attribute names in document order (to check exact spelling).
    public var attributeNames: [String]

    public init(_ element: XMLElement) {
        name = element.child("Name")?.text ?? ""
        users = element.attribute("Users").flatMap { Int($0) }
        capacity = element.attribute("Capacity").flatMap { Int($0) }
        passwordProtected = element.attribute("PasswordProtected")
        updatable = element.attribute("Updatable")
        hidden = element.attribute("Hidden")
        roomDescription = element.child("Description")?.text
        attributeNames = element.attributes.map(\.name)
    }
}

/// A `User` element of a `JoinRoom` user list.
public struct UserInfo: Equatable {
    public var name: String
    public var assignedNumber: Int?
    public var moderator: String?

    public init(_ element: XMLElement) {
        name = element.child("Name")?.text ?? ""
        assignedNumber = element.child("AssignedNumber").flatMap { Int($0.text) }
        moderator = element.attribute("Moderator")
    }
}
