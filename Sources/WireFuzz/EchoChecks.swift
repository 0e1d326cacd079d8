import NIOCore
import Wire

/// What the server writes of a request's user-supplied strings reads back, as a client would
/// read it, to exactly those strings (PROTOCOL.md section 2: user text can neither change the
/// structure of a message nor inject a frame):
/// - an `Error` carrying the request's action, with each string of the request as `Detail`;
/// - the echo of a message, the user list entry of a login, the room list entry of a created or
///   joined room.
func checkEchoes(_ request: ClientRequest) {
    for detail in [request.action] + userStrings(of: request) {
        let parameters = echoed(.error(reason: "User not found", requestAction: request.action, detail: detail), as: "Error")
        expectText(parameters, ["RequestAction"], request.action)
        expectText(parameters, ["Detail"], detail)
    }
    switch request {
    case .publicMessage(let text, let variables), .privateMessage(_, let text, let variables):
        let sender = userStrings(of: request).first ?? "sender"
        let parameters = echoed(.publicMessage(text: text, sender: sender, variables: variables), as: "SendPublicMessage")
        expectText(parameters, ["Message"], text)
        expectText(parameters, ["User"], sender)
        expectVariables(parameters, ["Variables"], item: "Variable", variables)
    case .login(let name, _, let variables):
        let parameters = echoed(.userJoined(WireUser(name: name, variables: variables)), as: "UpdateUserList")
        expectText(parameters, ["User", "Name"], name)
        expectVariables(parameters, ["User", "UserVariables"], item: "UserVariable", variables)
    case .createRoom(let zone, let spec):
        let room = WireRoom(name: spec.name, users: 1, capacity: spec.capacity, description: spec.description)
        let parameters = echoed(.roomList(zone: zone, zoneUsers: 1, rooms: [room]), as: "RoomList")
        expectText(parameters, ["Zone", "Name"], zone)
        expectText(parameters, ["Zone", "Rooms", "Room", "Name"], spec.name)
        expectText(parameters, ["Zone", "Rooms", "Room", "Description"], spec.description)
    case .joinRoom(let zone, let name, _):
        let parameters = echoed(.roomsInZone(zone: zone, zoneUsers: 1, rooms: [WireRoom(name: name, users: 1)]), as: "GetRoomsInZone")
        expectText(parameters, ["Zone", "Name"], zone)
        expectText(parameters, ["Zone", "Rooms", "Room", "Name"], name)
    case .moderatorCommand(let command):
        let parameters = echoed(.banned(reason: command.reason, moderator: command.userName, expires: command.expires), as: "Banned")
        expectText(parameters, ["Reason"], command.reason)
        expectText(parameters, ["Moderator"], command.userName)
        expectText(parameters, ["Expires"], command.expires)
        let kicked = echoed(.kicked(reason: command.reason, moderator: command.userName), as: "Kicked")
        expectText(kicked, ["Reason"], command.reason)
    case .adminLogin(let name, _):
        let parameters = echoed(.userJoined(WireUser(name: name, moderator: true)), as: "UpdateUserList")
        expectText(parameters, ["User", "Name"], name)
    case .changeRoomDetails(let change):
        let room = WireRoom(name: "room", users: 1, description: change.description)
        let parameters = echoed(.updateRoomList(minorAction: "ChangeRoomDetails", zoneUsers: 1, room: room),
                                as: "UpdateRoomList")
        expectText(parameters, ["Zone", "Rooms", "Room", "Description"], change.description)
    case .getRoomsInZone, .leaveRoom, .logout, .getLoggedInUserCount, .getServerTime, .ping, .unknown:
        break
    }
}

/// Any string at all (here: the input's bytes decoded as UTF-8, with its controls, NULs and
/// noncharacters) reads back from what the server writes of it as the same text, except that
/// what XML cannot carry is U+FFFD (``XMLWriter``): in element text, in an `Error`'s `Detail` and
/// a message's variables, and in an attribute value (the policy file's domain, from configuration).
func checkArbitraryText(_ text: String) {
    let expected = xmlRepresentable(text)
    let parameters = echoed(.publicMessage(text: text, sender: text, variables: [WireVariable(name: text, data: text)]), as: "SendPublicMessage")
    expectText(parameters, ["Message"], expected)
    expectText(parameters, ["User"], expected)
    expectVariables(parameters, ["Variables"], item: "Variable", [WireVariable(name: expected, data: expected)])
    expectText(echoed(.error(reason: "Unknown action", requestAction: text, detail: text), as: "Error"), ["Detail"], expected)

    let policy = Array(policyFileResponse(domain: text, port: 843).readableBytesView)
    guard policy.last == 0, case .success(let root) = read(Array(policy.dropLast()), limits: writtenLimits),
        !policy.dropLast().contains(0), root.name == "cross-domain-policy", root.children.count == 1
    else {
        violation("a client cannot read the policy file for domain \(show(text)): \(show(policy))")
    }
    let allow = root.children[0]
    require(
        allow.name == "allow-access-from" && allow.attribute("to-ports") == "843"
            && allow.attribute("domain").map { Array($0.utf8) } == Array(expected.utf8),
        "the policy file for domain \(show(text)) reads back as \(show(canonicalBytes(root)))"
    )
}

/// `text` with every character XML 1.0 cannot carry (controls other than tab, line feed and
/// carriage return; U+FFFE, U+FFFF) replaced by U+FFFD.
func xmlRepresentable(_ text: String) -> String {
    var scalars = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D, 0x20...0xD7FF, 0xE000...0xFFFD, 0x1_0000...: scalars.append(scalar)
        default: scalars.append("\u{FFFD}")
        }
    }
    return String(scalars)
}

/// Every string of `request` that came from the client, the action excepted.
func userStrings(of request: ClientRequest) -> [String] {
    func variableStrings(_ variables: [WireVariable]) -> [String] {
        variables.flatMap { [$0.name, $0.data] }
    }
    switch request {
    case .login(let name, let password, let variables):
        return [name, password] + variableStrings(variables)
    case .createRoom(let zone, let room):
        return [zone, room.name, room.password, room.description]
    case .joinRoom(let zone, let room, let password):
        return [zone, room, password]
    case .publicMessage(let text, let variables):
        return [text] + variableStrings(variables)
    case .privateMessage(let recipients, let text, let variables):
        return recipients + [text] + variableStrings(variables)
    case .getRoomsInZone(let zone):
        return [zone]
    case .adminLogin(let name, let password):
        return [name, password]
    case .moderatorCommand(let command):
        return [command.minorAction, command.userName, command.reason, command.expires]
    case .changeRoomDetails(let change):
        return [change.minorAction, change.description, change.capacity, change.hidden, change.isProtected, change.password,
                change.updatable]
    case .leaveRoom, .logout, .getLoggedInUserCount, .getServerTime, .ping, .unknown:
        return []
    }
}

/// Encodes `event` and reads it back as a client would: exactly one frame, an `XmlDoc` holding
/// `Action` (with the text `action`) then `Parameters`. Returns the `Parameters` element.
private func echoed(_ event: ServerEvent, as action: String) -> XMLElement {
    let encoded = Array(event.encoded().readableBytesView)
    let frames = encoded.withUnsafeBytes { expectedFrames($0, maxFrameBytes: Int.max) }
    guard frames.count == 1, case .document(let document) = frames[0], document.count == encoded.count - 1 else {
        violation("\(event) encodes to more or less than one frame: \(show(encoded))")
    }
    let root: XMLElement
    switch read(document, limits: writtenLimits) {
    case .failure(let error): violation("a client cannot read \(event) as encoded (\(error)): \(show(encoded))")
    case .success(let element): root = element
    }
    require(
        root.name == "XmlDoc" && root.children.count == 2 && root.children[0].name == "Action"
            && root.children[0].text == action && root.children[1].name == "Parameters",
        "\(event) does not encode as an envelope of \(action): \(show(encoded))"
    )
    return root.children[1]
}

/// The text of the element at `path` under `parameters` is `expected`, byte for byte.
private func expectText(_ parameters: XMLElement, _ path: [String], _ expected: String) {
    let element = descend(parameters, path)
    require(
        element.children.isEmpty && Array(element.text.utf8) == Array(expected.utf8),
        "\(path.joined(separator: "/")) reads back as \(show(element.text)), not \(show(expected))"
    )
}

/// The element at `path` under `parameters` lists `expected` as `item` elements.
private func expectVariables(_ parameters: XMLElement, _ path: [String], item: String, _ expected: [WireVariable]) {
    let list = descend(parameters, path)
    require(
        list.children.count == expected.count && list.children.allSatisfy { $0.name == item },
        "\(path.joined(separator: "/")) holds \(list.children.count) elements, not \(expected.count) \(item)"
    )
    for (element, variable) in zip(list.children, expected) {
        expectText(element, ["Name"], variable.name)
        expectText(element, ["Data"], variable.data)
    }
}

/// The first child named `path[0]`, its first child named `path[1]`, and so on (exact spelling:
/// the server writes the names of PROTOCOL.md).
private func descend(_ element: XMLElement, _ path: [String]) -> XMLElement {
    var current = element
    for name in path {
        guard let child = current.children.first(where: { $0.name == name }) else {
            violation("no \(name) in \(show(canonicalBytes(element)))")
        }
        current = child
    }
    return current
}
