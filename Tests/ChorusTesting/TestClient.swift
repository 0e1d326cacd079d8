import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A protocol client over a plain blocking TCP socket, as a Flash `XMLSocket` would be:
/// frames are read only when the test asks for them, so a client that is never asked to read
/// is a true slow reader.
///
/// The same client speaks WebSocket (PROTOCOL.md section 8) when made with a
/// ``ClientTransport`` other than `.tcp`: it upgrades on connecting, sends each document as
/// a text message (`/ws`) or the raw stream in binary messages (`/xmlsocket`), and turns
/// what it receives back into frames, so every helper works on every transport.
///
/// By default `UpdateRoomList ChangeRoomDetails` frames (room counts, pushed asynchronously and
/// coalesced) are skipped by ``next(timeout:)`` and the `expect` helpers; set
/// ``skipsCountUpdates`` to false to see them. Every frame received is kept in ``history``.
public final class TestClient {
    public let name: String
    public private(set) var fd: Int32
    private let node: NodeProcess?
    private var buffer: [UInt8] = []
    private var start = 0
    public private(set) var closedByPeer = false
    /// The peer reset the connection (rather than closing it in order).
    public private(set) var resetByPeer = false
    /// Every frame received, skipped or not, in arrival order.
    public private(set) var history: [Frame] = []
    public var skipsCountUpdates = true

    public static let defaultTimeout: Double = 5

    public let transport: ClientTransport
    /// Bytes received on a WebSocket, not yet a whole WebSocket frame.
    private var wire: [UInt8] = []
    /// Every WebSocket frame received, in order.
    public private(set) var webSocketFrames: [WebSocketWire.Frame] = []
    /// The server's close frame, once received.
    public private(set) var closeFrame: WebSocketWire.Frame?

    /// Connects to `port` on 127.0.0.1. `receiveBuffer` sets SO_RCVBUF before connecting (a
    /// small value makes a non-reading client's window fill up quickly).
    public init(port: Int, name: String = "client", node: NodeProcess? = nil, receiveBuffer: Int32? = nil,
                transport: ClientTransport = .tcp, origin: String? = nil) throws {
        self.name = name
        self.node = node
        self.transport = transport
        fd = try Socket.makeTCP()
        if let receiveBuffer { Socket.setOption(fd, level: SOL_SOCKET, name: SO_RCVBUF, value: receiveBuffer) }
        Socket.setOption(fd, level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1)
        guard Socket.connect(fd, port: port) == 0 else {
            let code = errno
            Socket.close(fd)
            throw TestFailure("\(name): connect to 127.0.0.1:\(port) failed: errno \(code)")
        }
        if let path = transport.path {
            try upgrade(path: path, port: port, origin: origin)
        }
    }

    /// The WebSocket handshake: the upgrade request, then `101` with the right accept value.
    private func upgrade(path: String, port: Int, origin: String?) throws {
        let key = WebSocketWire.makeKey()
        try Socket.sendAll(fd, WebSocketWire.upgradeRequest(path: path, host: "127.0.0.1:\(port)", key: key, origin: origin))
        let deadline = Date().addingTimeInterval(Self.defaultTimeout)
        var received: [UInt8] = []
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while true {
            if let range = received.firstRange(of: end) {
                let head = String(decoding: received[..<range.lowerBound], as: UTF8.self)
                wire = Array(received[range.upperBound...])
                guard head.hasPrefix("HTTP/1.1 101") else {
                    throw TestFailure("\(name): WebSocket upgrade of \(path) refused: \(head)")
                }
                guard head.lowercased().contains("sec-websocket-accept: \(WebSocketWire.acceptValue(key: key).lowercased())") else {
                    throw TestFailure("\(name): wrong Sec-WebSocket-Accept in: \(head)")
                }
                try takeWebSocketFrames()  // what came with the 101
                return
            }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0, Socket.waitReadable(fd, milliseconds: Int32(remaining * 1000) + 1) else {
                throw TestFailure("\(name): no answer to the WebSocket upgrade of \(path) within \(Self.defaultTimeout) s")
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { throw TestFailure("\(name): connection closed during the WebSocket upgrade of \(path)") }
            received += chunk[0..<count]
        }
    }

    /// Connects to `node` and reads the `ConnectionResponse`, which must be `Accepted`.
    public convenience init(_ node: NodeProcess, name: String = "client", receiveBuffer: Int32? = nil,
                            transport: ClientTransport = .tcp, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let port = transport == .tcp ? node.port : try node.requireWebPort()
        try self.init(port: port, name: name, node: node, receiveBuffer: receiveBuffer, transport: transport)
        let response = try expect("ConnectionResponse", sourceLocation: sourceLocation)
        guard response.result == "Accepted" else {
            throw failure("connection not accepted: \(response.raw)", sourceLocation)
        }
    }

    deinit { close() }

    public func close() {
        if fd >= 0 {
            Socket.close(fd)
            fd = -1
        }
    }

    // MARK: Sending

    /// Sends `xml` followed by the zero byte (on `/ws`: `xml` as one text message).
    public func send(_ xml: String) throws {
        if transport == .ws {
            try sendWire(WebSocketWire.frame(WebSocketWire.Opcode.text.rawValue, Array(xml.utf8)))
        } else {
            try sendRaw(Array(xml.utf8) + [0])
        }
    }

    /// Sends bytes exactly as given, in one write (on a WebSocket: as one message, text on
    /// `/ws`, binary on `/xmlsocket`).
    public func sendRaw(_ bytes: [UInt8]) throws {
        switch transport {
        case .tcp: try sendWire(bytes)
        case .ws: try sendWire(WebSocketWire.frame(WebSocketWire.Opcode.text.rawValue, bytes))
        case .xmlsocket: try sendWire(WebSocketWire.frame(WebSocketWire.Opcode.binary.rawValue, bytes))
        }
    }

    /// Writes bytes to the socket exactly as given (hand-made WebSocket frames).
    public func sendWire(_ bytes: [UInt8]) throws {
        guard fd >= 0 else { throw TestFailure("\(name): send on a closed client") }
        try Socket.sendAll(fd, bytes)
    }

    // MARK: Receiving

    /// The next frame (skipping count updates if ``skipsCountUpdates``); throws on timeout or
    /// if the connection closes first.
    public func next(timeout: Double = defaultTimeout, sourceLocation: SourceLocation = #_sourceLocation) throws -> Frame {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            guard let frame = try receiveFrame(until: deadline) else {
                if closedByPeer {
                    throw failure("connection closed while waiting for a frame", sourceLocation)
                }
                throw failure("no frame within \(timeout) s", sourceLocation)
            }
            if skipsCountUpdates, frame.isCountUpdate { continue }
            return frame
        }
    }

    /// The next frame, which must have action `action` (and `MinorAction` `minor` if given).
    @discardableResult
    public func expect(_ action: String, minor: String? = nil, timeout: Double = defaultTimeout,
                sourceLocation: SourceLocation = #_sourceLocation) throws -> Frame {
        let frame = try next(timeout: timeout, sourceLocation: sourceLocation)
        guard frame.action == action, minor == nil || frame.minorAction == minor else {
            throw failure("expected \(action)\(minor.map { " " + $0 } ?? ""), got: \(frame.raw)", sourceLocation)
        }
        return frame
    }

    /// The next frame, which must be `action` with `<Result>result</Result>` and, if given,
    /// `<Reason>reason</Reason>`.
    @discardableResult
    public func expect(_ action: String, result: String, reason: String? = nil, timeout: Double = defaultTimeout,
                sourceLocation: SourceLocation = #_sourceLocation) throws -> Frame {
        let frame = try expect(action, timeout: timeout, sourceLocation: sourceLocation)
        guard frame.result == result, reason == nil || frame.reason == reason else {
            throw failure("expected \(action) \(result)\(reason.map { " (\($0))" } ?? ""), got: \(frame.raw)", sourceLocation)
        }
        return frame
    }

    /// The next frame, which must be an `Error` with this reason and request action.
    @discardableResult
    public func expectError(_ reason: String, requestAction: String, timeout: Double = defaultTimeout,
                     sourceLocation: SourceLocation = #_sourceLocation) throws -> Frame {
        let frame = try expect("Error", timeout: timeout, sourceLocation: sourceLocation)
        guard frame.reason == reason, frame.param("RequestAction") == requestAction else {
            throw failure("expected Error \(reason) for \"\(requestAction)\", got: \(frame.raw)", sourceLocation)
        }
        return frame
    }

    /// The next frames, in any order, must match `expected` one to one (count updates skipped
    /// if ``skipsCountUpdates``); returns them in the order of `expected`.
    @discardableResult
    public func expectInAnyOrder(_ expected: [(description: String, matches: (Frame) -> Bool)], timeout: Double = defaultTimeout,
                          sourceLocation: SourceLocation = #_sourceLocation) throws -> [Frame] {
        var found: [Frame?] = Array(repeating: nil, count: expected.count)
        while found.contains(where: { $0 == nil }) {
            let frame = try next(timeout: timeout, sourceLocation: sourceLocation)
            guard let index = expected.indices.first(where: { found[$0] == nil && expected[$0].matches(frame) }) else {
                let missing = expected.indices.filter { found[$0] == nil }.map { expected[$0].description }
                throw failure("expected one of \(missing), got: \(frame.raw)", sourceLocation)
            }
            found[index] = frame
        }
        return found.map { $0! }
    }

    /// Skips frames until one matches; throws if none does before the timeout.
    @discardableResult
    public func waitFor(_ description: String, timeout: Double = defaultTimeout,
                 sourceLocation: SourceLocation = #_sourceLocation, where predicate: (Frame) -> Bool) throws -> Frame {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            guard let frame = try receiveFrame(until: deadline) else {
                throw failure("\(description) did not arrive within \(timeout) s\(closedByPeer ? " (connection closed)" : "")", sourceLocation)
            }
            if predicate(frame) { return frame }
        }
    }

    /// Every frame that arrives within `seconds` (count updates included), stopping early if the
    /// connection closes.
    public func collect(for seconds: Double) throws -> [Frame] {
        let deadline = Date().addingTimeInterval(seconds)
        var frames: [Frame] = []
        while let frame = try receiveFrame(until: deadline) { frames.append(frame) }
        return frames
    }

    /// Frames already received or readable right now, without waiting (count updates included).
    public func drainAvailable() throws -> [Frame] {
        try collect(for: 0)
    }

    /// Records an issue if any frame (count updates skipped if ``skipsCountUpdates``) arrives
    /// within `seconds`.
    public func expectNothing(within seconds: Double = 0.5, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while let frame = try receiveFrame(until: deadline) {
            if skipsCountUpdates, frame.isCountUpdate { continue }
            Issue.record("\(name): expected no more messages, got: \(frame.raw)", sourceLocation: sourceLocation)
        }
    }

    /// Reads (and discards) until the node closes the connection; returns the frames read.
    /// Throws if the connection is still open after `timeout`.
    @discardableResult
    public func expectClosed(timeout: Double = defaultTimeout, sourceLocation: SourceLocation = #_sourceLocation) throws -> [Frame] {
        let deadline = Date().addingTimeInterval(timeout)
        var frames: [Frame] = []
        while !closedByPeer {
            guard let frame = try receiveFrame(until: deadline) else {
                if closedByPeer { break }
                throw failure("connection still open after \(timeout) s", sourceLocation)
            }
            frames.append(frame)
        }
        return frames
    }

    // MARK: Session helpers

    /// Sends `xml` and returns the first `action` frame that follows, skipping any other.
    @discardableResult
    public func call(_ xml: String, _ action: String, timeout: Double = defaultTimeout,
              sourceLocation: SourceLocation = #_sourceLocation) throws -> Frame {
        try send(xml)
        return try waitFor(action, timeout: timeout, sourceLocation: sourceLocation) { $0.action == action }
    }

    /// Logs in: expects `RoomList` then `LoginResponse` `Accepted`; returns the `RoomList`.
    @discardableResult
    public func login(_ userName: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Frame {
        try send(Request.login(userName))
        let first = try next(sourceLocation: sourceLocation)
        guard first.action == "RoomList" else {
            throw failure("login of \"\(userName)\": expected RoomList, got: \(first.raw)", sourceLocation)
        }
        try expect("LoginResponse", result: "Accepted", sourceLocation: sourceLocation)
        return first
    }

    /// Creates a room in the current zone of a user already in the zone `Chat`-like default
    /// zone: expects `CreateRoom` Success, `UpdateRoomList` CreateRoom (unless hidden) and
    /// `JoinRoom` Success; returns the `JoinRoom`.
    @discardableResult
    public func createRoom(_ room: String, password: String? = nil, capacity: Int? = nil, hidden: Bool = false,
                    description: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> Frame {
        try send(Request.createRoom(room, password: password, capacity: capacity, hidden: hidden, description: description))
        try expect("CreateRoom", result: "Success", sourceLocation: sourceLocation)
        if !hidden {
            let push = try expect("UpdateRoomList", minor: "CreateRoom", sourceLocation: sourceLocation)
            guard push.rooms.map(\.name) == [room] else {
                throw failure("UpdateRoomList CreateRoom for another room: \(push.raw)", sourceLocation)
            }
        }
        return try expect("JoinRoom", result: "Success", sourceLocation: sourceLocation)
    }

    /// Joins an existing room of `zone` (no zone change expected); returns the `JoinRoom`.
    @discardableResult
    public func joinRoom(_ room: String, zone: String = "Chat", password: String = "",
                  sourceLocation: SourceLocation = #_sourceLocation) throws -> Frame {
        try send(Request.joinRoom(room, zone: zone, password: password))
        return try expect("JoinRoom", result: "Success", sourceLocation: sourceLocation)
    }

    // MARK: Raw connections (PROXY headers, hand-made frames)

    /// This end's port (what a proxy in front of the node reports as the client's source port).
    public var localPort: Int? { fd >= 0 ? Socket.localPort(fd) : nil }

    /// Sends `text` exactly as given (no terminator added).
    public func send(text: String) throws {
        try sendRaw(Array(text.utf8))
    }

    /// Sends one request frame: the envelope of PROTOCOL.md section 2 and a zero byte.
    public func request(_ action: String, _ parameters: String = "") throws {
        try send(Request.envelope(action, parameters))
    }

    /// Skips frames until one has action `action` and contains each of `parts` in its raw
    /// text; returns it.
    @discardableResult
    public func next(action: String, timeout: Double = defaultTimeout, containing parts: [String] = [],
                     sourceLocation: SourceLocation = #_sourceLocation) throws -> Frame {
        try waitFor("\(action) \(parts)", timeout: timeout, sourceLocation: sourceLocation) { frame in
            frame.action == action && parts.allSatisfy { frame.raw.contains($0) }
        }
    }

    /// True when the peer closes the connection within `timeout` (frames are read and dropped).
    public func waitClosed(timeout: Double = defaultTimeout) -> Bool {
        (try? expectClosed(timeout: timeout)) != nil
    }

    /// Connects to `port`, expects `ConnectionResponse` `Accepted` and logs in as `name` (the
    /// `RoomList` before `LoginResponse` is skipped); closes the connection if any step fails.
    public static func loggedIn(port: Int, name: String, timeout: Double = 10, transport: ClientTransport = .tcp,
                                sourceLocation: SourceLocation = #_sourceLocation) throws -> TestClient {
        let client = try TestClient(port: port, name: name, transport: transport)
        do {
            let greeting = try client.next(action: "ConnectionResponse", timeout: timeout, sourceLocation: sourceLocation)
            guard greeting.result == "Accepted" else { throw TestFailure("\(name): not accepted: \(greeting.raw)", sourceLocation: sourceLocation) }
            try client.send(Request.login(name))
            let response = try client.next(action: "LoginResponse", timeout: timeout, sourceLocation: sourceLocation)
            guard response.result == "Accepted" else { throw TestFailure("\(name): login refused: \(response.raw)", sourceLocation: sourceLocation) }
            return client
        } catch {
            client.close()
            throw error
        }
    }

    /// Connects to `port` and reads `ConnectionResponse` `Accepted`.
    public static func accepted(port: Int, name: String, receiveBuffer: Int32? = nil, transport: ClientTransport = .tcp,
                                origin: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> TestClient {
        let client = try TestClient(port: port, name: name, receiveBuffer: receiveBuffer, transport: transport, origin: origin)
        let response = try client.expect("ConnectionResponse", sourceLocation: sourceLocation)
        guard response.result == "Accepted" else { throw TestFailure("\(name): connection not accepted: \(response.raw)") }
        return client
    }

    // MARK: Internals

    /// The next complete frame, reading until `deadline`; nil on timeout or closed connection.
    private func receiveFrame(until deadline: Date) throws -> Frame? {
        while true {
            if let frame = takeFrame() {
                history.append(frame)
                try checkEnvelope(frame)
                return frame
            }
            if closedByPeer || fd < 0 { return nil }
            let remaining = deadline.timeIntervalSinceNow
            let milliseconds = Int32(max(0, min(remaining * 1000, 60_000)).rounded(.up))
            guard Socket.waitReadable(fd, milliseconds: milliseconds) else {
                if remaining <= 0 { return nil }
                continue
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0, transport != .tcp {
                wire.append(contentsOf: chunk[0..<count])
                try takeWebSocketFrames()
            } else if count > 0 {
                buffer.append(contentsOf: chunk[0..<count])
            } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                if count < 0, errno == ECONNRESET { resetByPeer = true }
                closedByPeer = true  // orderly close, or reset
            }
        }
    }

    /// Turns whole WebSocket frames into protocol bytes: a text message is one document
    /// (its zero byte added here), a binary message raw stream bytes. A close frame ends the
    /// connection; pings are answered.
    private func takeWebSocketFrames() throws {
        while let frame = WebSocketWire.takeFrame(&wire) {
            webSocketFrames.append(frame)
            if frame.masked { throw failure("the server sent a masked frame (RFC 6455 5.1)", nil) }
            switch WebSocketWire.Opcode(rawValue: frame.opcode) {
            case .text:
                if frame.payload.contains(0) { throw failure("a text message with a zero byte in it", nil) }
                buffer += frame.payload + [0]
            case .binary:
                if transport == .ws { throw failure("a binary message on /ws", nil) }
                buffer += frame.payload
            case .close:
                closeFrame = frame
                closedByPeer = true
            case .ping:
                try? sendWire(WebSocketWire.frame(WebSocketWire.Opcode.pong.rawValue, frame.payload))
            default:
                break
            }
        }
    }

    private func takeFrame() -> Frame? {
        guard let end = buffer[start...].firstIndex(of: 0) else { return nil }
        let frame = Frame(bytes: Array(buffer[start..<end]))
        start = end + 1
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 1 << 20 {
            buffer.removeFirst(start)
            start = 0
        }
        return frame
    }

    /// Every server frame must be well-formed, and an `XmlDoc` must have `Action` first and
    /// `Parameters` second (PROTOCOL.md section 2).
    private func checkEnvelope(_ frame: Frame) throws {
        guard let root = frame.root else { throw failure("node sent a frame that is not well-formed XML: \(frame.raw)", nil) }
        guard root.name == "XmlDoc" else { return }  // the Flash policy document
        let names = root.children.map(\.name)
        if names != ["Action", "Parameters"] {
            throw failure("envelope must be <Action> then <Parameters>, got children \(names): \(frame.raw)", nil)
        }
    }

    private func failure(_ message: String, _ location: SourceLocation?) -> TestFailure {
        var text = "\(name): \(message)"
        let recent = history.suffix(5).map { "  " + String($0.raw.prefix(400)) }
        if !recent.isEmpty { text += "\nlast frames received by \(name):\n" + recent.joined(separator: "\n") }
        if let node { text += "\nnode log (tail):\n" + node.logTail() }
        if let location { return TestFailure(text, sourceLocation: location) }
        return TestFailure(text)
    }
}

/// How a ``TestClient`` reaches the node.
public enum ClientTransport: Sendable, Equatable {
    /// The client port: zero-terminated documents over TCP.
    case tcp
    /// The web port's `/ws`: one document per text message.
    case ws
    /// The web port's `/xmlsocket`: the raw stream in binary messages.
    case xmlsocket

    var path: String? {
        switch self {
        case .tcp: return nil
        case .ws: return "/ws"
        case .xmlsocket: return "/xmlsocket"
        }
    }
}
