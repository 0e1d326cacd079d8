import NIOCore
import Testing
import Wire

/// A test failure raised by the support code (a timeout, an unexpected frame, a closed
/// connection). Thrown errors end the test and are reported with this description.
struct TestFailure: Error, CustomStringConvertible {
    let description: String

    init(_ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        description = "\(message) [at \(sourceLocation.fileName):\(sourceLocation.line)]"
    }
}

/// One frame received from a node: the raw document (terminator excluded) and its parse.
struct Frame: CustomStringConvertible {
    /// The document as received, decoded as UTF-8.
    let raw: String
    /// The parsed document, or nil if it was not well-formed XML.
    let root: XMLElement?

    init(bytes: [UInt8]) {
        raw = String(decoding: bytes, as: UTF8.self)
        root = try? XMLReader.parse(ByteBuffer(bytes: bytes))
    }

    var description: String { raw }

    /// The text of `Action`, or "" if the frame has none.
    var action: String { root?.child("Action")?.text ?? "" }

    /// The `Parameters` element (empty if missing).
    var parameters: XMLElement { root?.child("Parameters") ?? XMLElement(name: "Parameters") }

    /// The text of the child `name` of `Parameters`, or nil if there is none.
    func param(_ name: String) -> String? { parameters.child(name)?.text }

    var result: String? { param("Result") }
    var reason: String? { param("Reason") }
    var minorAction: String? { param("MinorAction") }

    /// For `RoomList`, `GetRoomsInZone` and `UpdateRoomList`: the `Zone` element.
    var zone: XMLElement? { parameters.child("Zone") }

    /// For `RoomList`, `GetRoomsInZone` and `UpdateRoomList`: the rooms listed.
    var rooms: [RoomInfo] {
        (zone?.child("Rooms")?.children(named: "Room") ?? []).map(RoomInfo.init)
    }

    /// For `JoinRoom` success: the members in the order sent.
    var users: [UserInfo] {
        (parameters.child("Users")?.children(named: "User") ?? []).map(UserInfo.init)
    }

    /// For `UpdateUserList`: the name of the user who joined or left.
    var userName: String? { parameters.child("User")?.child("Name")?.text }

    /// For `SendPublicMessage` / `SendPrivateMessage`: text, sender and variables.
    var message: String? { param("Message") }
    var sender: String? { param("User") }
    var variables: [(name: String, data: String)] {
        (parameters.child("Variables")?.children(named: "Variable") ?? []).map {
            (name: $0.child("Name")?.text ?? "", data: $0.child("Data")?.text ?? "")
        }
    }

    /// True if this is a (possibly coalesced) `UpdateRoomList ChangeRoomDetails` count update.
    var isCountUpdate: Bool { action == "UpdateRoomList" && minorAction == "ChangeRoomDetails" }
}

/// Frame predicates for ``TestClient/expectInAnyOrder(_:timeout:sourceLocation:)``.
func action(_ action: String, minor: String? = nil, result: String? = nil) -> (description: String, matches: (Frame) -> Bool) {
    let description = [action, minor, result].compactMap { $0 }.joined(separator: " ")
    return (description, { frame in
        frame.action == action && (minor == nil || frame.minorAction == minor) && (result == nil || frame.result == result)
    })
}

/// A `Room` element of a room list or `JoinRoom`.
struct RoomInfo: Equatable {
    var name: String
    var users: Int?
    var capacity: Int?
    var passwordProtected: String?
    var updatable: String?
    var hidden: String?
    var roomDescription: String?
    /// The attribute names in document order (to check exact spelling).
    var attributeNames: [String]

    init(_ element: XMLElement) {
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
struct UserInfo: Equatable {
    var name: String
    var assignedNumber: Int?
    var moderator: String?

    init(_ element: XMLElement) {
        name = element.child("Name")?.text ?? ""
        assignedNumber = element.child("AssignedNumber").flatMap { Int($0.text) }
        moderator = element.attribute("Moderator")
    }
}
