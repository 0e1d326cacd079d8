import NIOCore
import Wire

/// A decoded request, written back as a client would send it, decodes to the same request:
/// the same bytes when written again (strings compared byte for byte, not as Unicode-equivalent).
func checkRequestRoundTrip(_ request: ClientRequest) {
    let written = requestBytes(request)
    require(!written.contains(0), "the request \(request) was written with 0x00: \(show(written))")
    let again: ClientRequest
    do {
        again = try ClientRequest.decode(ByteBuffer(bytes: written), limits: writtenLimits)
    } catch {
        violation("the decoder refuses (\(error)) the request \(request) written back as \(show(written))")
    }
    let rewritten = requestBytes(again)
    require(rewritten == written, "the request changed when decoded again: wrote \(show(written)), then \(show(rewritten))")
}

/// `request` as a client sends it (PROTOCOL.md section 4), without the frame terminator.
func requestBytes(_ request: ClientRequest) -> [UInt8] {
    var writer = XMLWriter(buffer: ByteBuffer())
    writer.markup("<XmlDoc>")
    writer.element("Action", request.action)
    writer.open("Parameters")
    switch request {
    case .login(let name, let password, let variables):
        writer.element("Name", name)
        writer.element("Password", password)
        writer.variables(variables, in: "UserVariables", item: "UserVariable")
    case .createRoom(let zone, let room):
        writer.open("Zone")
        writer.element("Name", zone)
        writer.startTag("Room")
        writer.attribute("Hidden", room.hidden)
        writer.attribute("Updatable", room.updatable)
        writer.finishStartTag()
        writer.element("Name", room.name)
        writer.element("Password", room.password)
        writer.element("Description", room.description)
        writer.element("Capacity", room.capacity)
        writer.close("Room")
        writer.close("Zone")
    case .joinRoom(let zone, let room, let password):
        writer.open("Zone")
        writer.element("Name", zone)
        writer.open("Room")
        writer.element("Name", room)
        writer.element("Password", password)
        writer.close("Room")
        writer.close("Zone")
    case .publicMessage(let text, let variables):
        writer.element("Message", text)
        writer.variables(variables, in: "Variables", item: "Variable")
    case .privateMessage(let recipients, let text, let variables):
        writer.list("Users", recipients) { $0.element("User", $1) }
        writer.element("Message", text)
        writer.variables(variables, in: "Variables", item: "Variable")
    case .getRoomsInZone(let zone):
        writer.element("Zone", zone)
    case .adminLogin(let name, let password):
        writer.element("Name", name)
        writer.element("Password", password)
    case .moderatorCommand(let command):
        writer.element("MinorAction", command.minorAction)
        writer.element("UserName", command.userName)
        writer.element("Reason", command.reason)
        writer.element("Expires", command.expires)
        writer.element("Address", command.address ? "true" : "false")
    case .changeRoomDetails(let change):
        writer.element("MinorAction", change.minorAction)
        writer.element("Description", change.description)
        writer.element("Capacity", change.capacity)
        writer.element("Hidden", change.hidden)
        writer.element("IsProtected", change.isProtected)
        writer.element("Password", change.password)
        writer.element("Updatable", change.updatable)
    case .leaveRoom, .logout, .getLoggedInUserCount, .getServerTime, .ping, .unknown:
        break
    }
    writer.close("Parameters")
    writer.markup("</XmlDoc>")
    return Array(writer.buffer.readableBytesView)
}

extension XMLWriter {
    /// `<container><item><Name>N</Name><Data>D</Data></item>...</container>`
    fileprivate mutating func variables(_ variables: [WireVariable], in container: StaticString, item: StaticString) {
        list(container, variables) { writer, variable in
            writer.open(item)
            writer.element("Name", variable.name)
            writer.element("Data", variable.data)
            writer.close(item)
        }
    }
}
