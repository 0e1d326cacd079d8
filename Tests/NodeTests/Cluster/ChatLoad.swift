import ChorusTesting
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - What a member saw

/// One thing a member's connection delivered, in arrival order (or its end).
struct ChatEvent: Sendable {
    enum Kind: Sendable {
        /// `ConnectionResponse`, `LoginResponse`, `CreateRoom`, a failed `JoinRoom`, `LeaveRoom`.
        case response(action: String, result: String?, reason: String?)
        /// `JoinRoom` success: the user list it gives (`<Users>`, in order).
        case joined(users: [String])
        case userJoined(String)
        case userLeft(String)
        case publicMessage(sender: String, text: String)
        case privateMessage(sender: String, text: String)
        case error(reason: String, requestAction: String, detail: String)
        /// Any other action (room lists excepted: they are not kept).
        case other(String)
        /// The node closed the connection (`reset`: with a reset).
        case closed(reset: Bool)
    }

    let at: Date
    let kind: Kind
}

/// Everything one member did and saw, once the load is over.
struct MemberRecord: Sendable {
    let name: String
    /// The room it chats in; nil for helpers (observers, probers).
    let room: String?
    /// The node it is connected to (0-based).
    let node: Int
    let events: [ChatEvent]
    /// Chat messages (`NAME#n`, n = 0, 1, ...) written to the socket completely.
    let sent: Int
    /// Chat messages queued but not completely written (only non-zero for a dead connection).
    let unsent: Int
    /// The node closed the connection.
    let closed: Bool
}

// MARK: - One member

/// A chatting client with its own thread (never Swift's cooperative pool): a non-blocking
/// socket, polled; it reads continuously, keeps every event, and — while sending is on —
/// sends a public message `NAME#n` every `interval` (uniformly random), n counting from 0.
/// Requests of the test (login, join, probes) are queued with ``enqueue(_:)`` and written by
/// the same thread, in order.
final class ChatMember: @unchecked Sendable {
    let name: String
    let room: String?
    let node: Int
    let interval: ClosedRange<Double>

    private let fd: Int32
    private let state: Mutex<State>
    private let finished = DispatchSemaphore(value: 0)

    private struct State {
        var events: [ChatEvent] = []
        var outbound: [(bytes: [UInt8], chat: Bool)] = []
        var offset = 0
        var sent = 0
        var queuedChat = 0
        var sending = false
        var nextSend = Date.distantFuture
        var stop = false
        var closed = false
        var userList: Set<String> = []
        var received: Set<String> = []
        var publicErrors = 0
        var lastFrame = Date()
    }

    /// Connects to `port` (blocking connect) and starts the member's thread.
    init(name: String, room: String?, node: Int, port: Int, interval: ClosedRange<Double>) throws {
        self.name = name
        self.room = room
        self.node = node
        self.interval = interval
        let fd = try Socket.makeTCP()
        Socket.setOption(fd, level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1)
        guard Socket.connect(fd, port: port) == 0 else {
            let code = errno
            _ = closeDescriptor(fd)
            throw TestFailure("\(name): connect to 127.0.0.1:\(port) failed: errno \(code)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.fd = fd
        state = Mutex(State())
        let thread = Thread { [self] in run() }
        thread.name = "chat-\(name)"
        thread.start()
    }

    deinit {
        stop()
    }

    // MARK: Control (any thread)

    /// Queues a request frame (`xml` and the zero byte).
    func enqueue(_ xml: String) {
        state.withLock { $0.outbound.append((Array(xml.utf8) + [0], false)) }
    }

    /// Starts or stops the periodic public messages.
    func setSending(_ on: Bool) {
        state.withLock { state in
            state.sending = on
            state.nextSend = on ? Date().addingTimeInterval(Double.random(in: 0...interval.upperBound)) : .distantFuture
        }
    }

    /// Queues one public message now; returns its text.
    @discardableResult
    func sendOne() -> String {
        state.withLock { queueChat(&$0) }
    }

    /// Looks at the live state under the lock.
    func inspect<T>(_ body: (LiveView) -> T) -> T {
        state.withLock { state in
            body(LiveView(userList: state.userList, received: state.received, publicErrors: state.publicErrors,
                          closed: state.closed, lastFrame: state.lastFrame, queuedChat: state.queuedChat,
                          sent: state.sent, pending: state.outbound.count, events: state.events.count))
        }
    }

    /// What ``inspect(_:)`` shows.
    struct LiveView {
        let userList: Set<String>
        let received: Set<String>
        let publicErrors: Int
        let closed: Bool
        let lastFrame: Date
        let queuedChat: Int
        let sent: Int
        let pending: Int
        let events: Int
    }

    /// Events from index `from` on (to wait for a response).
    func events(from: Int = 0) -> [ChatEvent] {
        state.withLock { Array($0.events[min(from, $0.events.count)...]) }
    }

    /// Waits until an event from index `from` on matches; returns it, or nil after `timeout`.
    func waitForEvent(from: Int = 0, timeout: Double, _ predicate: (ChatEvent.Kind) -> Bool) async -> ChatEvent? {
        var found: ChatEvent?
        _ = await eventually(timeout: .seconds(timeout), every: .milliseconds(50)) {
            found = events(from: from).first { predicate($0.kind) }
            return found != nil || inspect(\.closed)
        }
        return found ?? events(from: from).first { predicate($0.kind) }
    }

    var isClosed: Bool { inspect(\.closed) }

    /// Whether a public message with this text arrived.
    func hasReceived(_ text: String) -> Bool {
        state.withLock { $0.received.contains(text) }
    }

    /// Stops the thread (waiting for it) and closes the socket. Idempotent.
    func stop() {
        let first = state.withLock { state -> Bool in
            defer { state.stop = true }
            return !state.stop
        }
        guard first else { return }
        finished.wait()
        _ = closeDescriptor(fd)
    }

    /// The record of everything so far.
    func record() -> MemberRecord {
        state.withLock { state in
            MemberRecord(name: name, room: room, node: node, events: state.events, sent: state.sent,
                         unsent: state.queuedChat - state.sent, closed: state.closed)
        }
    }

    // MARK: The member's thread

    private func queueChat(_ state: inout State) -> String {
        let text = "\(name)#\(state.queuedChat)"
        state.queuedChat += 1
        state.outbound.append((Array(Request.publicMessage(text).utf8) + [0], true))
        return text
    }

    private func run() {
        defer { finished.signal() }
        var inbound: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let (stop, wantsWrite, waitMs) = state.withLock { state -> (Bool, Bool, Int32) in
                let now = Date()
                if state.sending, now >= state.nextSend {
                    _ = queueChat(&state)
                    state.nextSend = now.addingTimeInterval(Double.random(in: interval))
                }
                let untilSend = state.sending ? state.nextSend.timeIntervalSince(now) : 0.05
                return (state.stop || state.closed, !state.outbound.isEmpty,
                        Int32(max(1, min(50, (untilSend * 1000).rounded(.up)))))
            }
            if stop { return }
            if wantsWrite, !flush() { return }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN) | (wantsWrite ? Int16(POLLOUT) : 0), revents: 0)
            let ready = poll(&descriptor, 1, waitMs)
            if ready < 0, errno != EINTR { markClosed(reset: false); return }
            guard ready > 0 else { continue }
            if descriptor.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                // Read everything available now.
                while true {
                    let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if count > 0 {
                        inbound.append(contentsOf: chunk[0..<count])
                        continue
                    }
                    if count < 0, errno == EINTR { continue }
                    if count < 0, errno == EAGAIN || errno == EWOULDBLOCK { break }
                    consume(&inbound)
                    markClosed(reset: count < 0 && errno == ECONNRESET)
                    return
                }
                consume(&inbound)
            }
        }
    }

    /// Writes queued frames until the socket would block; false if the connection is gone.
    private func flush() -> Bool {
        state.withLock { state -> Bool in
            while let first = state.outbound.first {
                let remaining = first.bytes.count - state.offset
                let written = first.bytes.withUnsafeBytes { pointer -> Int in
                    #if canImport(Darwin)
                    send(fd, pointer.baseAddress! + state.offset, remaining, 0)
                    #else
                    send(fd, pointer.baseAddress! + state.offset, remaining, Int32(MSG_NOSIGNAL))
                    #endif
                }
                if written < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK { return true }
                    return false  // the read side will see the close
                }
                state.offset += written
                if state.offset == first.bytes.count {
                    if first.chat { state.sent += 1 }
                    state.outbound.removeFirst()
                    state.offset = 0
                }
            }
            return true
        }
    }

    private func markClosed(reset: Bool) {
        state.withLock { state in
            state.closed = true
            state.events.append(ChatEvent(at: Date(), kind: .closed(reset: reset)))
        }
    }

    /// Parses the complete frames at the start of `inbound` and records them.
    private func consume(_ inbound: inout [UInt8]) {
        var start = 0
        var parsed: [ChatEvent.Kind?] = []
        while let end = inbound[start...].firstIndex(of: 0) {
            if end > start { parsed.append(Self.event(Frame(bytes: Array(inbound[start..<end])))) }
            start = end + 1
        }
        guard start > 0 else { return }
        inbound.removeFirst(start)
        let now = Date()
        state.withLock { state in
            state.lastFrame = now
            for kind in parsed {
                guard let kind else { continue }
                switch kind {
                case .joined(let users): state.userList = Set(users)
                case .userJoined(let user): state.userList.insert(user)
                case .userLeft(let user): state.userList.remove(user)
                case .publicMessage(_, let text): state.received.insert(text)
                case .error(let reason, let action, _) where action == "SendPublicMessage" && reason != "Messages lost":
                    state.publicErrors += 1
                default: break
                }
                state.events.append(ChatEvent(at: now, kind: kind))
            }
        }
    }

    /// The event a frame means; nil for frames not kept (room lists).
    private static func event(_ frame: Frame) -> ChatEvent.Kind? {
        guard frame.root != nil else { return .other("malformed: \(frame.raw.prefix(200))") }
        switch frame.action {
        case "RoomList", "UpdateRoomList", "GetRoomsInZone":
            return nil
        case "JoinRoom" where frame.result == "Success":
            return .joined(users: frame.users.map(\.name))
        case "ConnectionResponse", "LoginResponse", "CreateRoom", "JoinRoom", "LeaveRoom", "Logout":
            return .response(action: frame.action, result: frame.result, reason: frame.reason)
        case "UpdateUserList" where frame.minorAction == "UserJoined":
            return .userJoined(frame.userName ?? "")
        case "UpdateUserList" where frame.minorAction == "UserLeft":
            return .userLeft(frame.userName ?? "")
        case "SendPublicMessage":
            return .publicMessage(sender: frame.sender ?? "", text: frame.message ?? "")
        case "SendPrivateMessage":
            return .privateMessage(sender: frame.sender ?? "", text: frame.message ?? "")
        case "Error":
            return .error(reason: frame.reason ?? "", requestAction: frame.param("RequestAction") ?? "",
                          detail: frame.param("Detail") ?? "")
        default:
            return .other(frame.action)
        }
    }

    // MARK: Setup steps (from a test)

    /// Waits for `ConnectionResponse` `Accepted`.
    func accepted(timeout: Double = 10) async throws {
        let event = await waitForEvent(timeout: timeout) {
            if case .response("ConnectionResponse", _, _) = $0 { return true }
            return false
        }
        guard case .response(_, "Accepted", _)? = event?.kind else {
            throw TestFailure("\(name): no ConnectionResponse Accepted: \(String(describing: event?.kind))")
        }
    }

    /// Sends `Login` and waits for `LoginResponse` `Accepted`.
    func login(timeout: Double = 10) async throws {
        let mark = inspect(\.events)
        enqueue(Request.login(name))
        let event = await waitForEvent(from: mark, timeout: timeout) {
            if case .response("LoginResponse", _, _) = $0 { return true }
            return false
        }
        guard case .response(_, "Accepted", _)? = event?.kind else {
            throw TestFailure("\(name): login not accepted: \(String(describing: event?.kind))")
        }
    }

    /// Sends `JoinRoom` (or `CreateRoom`) and waits for `JoinRoom` success; returns its user list.
    @discardableResult
    func join(_ room: String, create: Bool = false, timeout: Double = 10) async throws -> [String] {
        let mark = inspect(\.events)
        enqueue(create ? Request.createRoom(room) : Request.joinRoom(room))
        let event = await waitForEvent(from: mark, timeout: timeout) {
            switch $0 {
            case .joined: return true
            case .response("JoinRoom", _, _), .response("CreateRoom", "Failure", _): return true
            default: return false
            }
        }
        guard case .joined(let users)? = event?.kind else {
            throw TestFailure("\(name): could not \(create ? "create" : "join") \(room): \(String(describing: event?.kind))")
        }
        return users
    }
}

@inline(__always)
private func closeDescriptor(_ fd: Int32) -> Int32 {
    #if canImport(Darwin)
    Darwin.close(fd)
    #else
    Glibc.close(fd)
    #endif
}

// MARK: - The load

/// How a chat load is laid out.
struct ChatPlan: Sendable {
    /// Members, named `m01`, `m02`, ...
    var members = 24
    /// Rooms of the default zone; member i is on node `nodes[i % nodes.count]` and in room
    /// `rooms[(i / nodes.count) % rooms.count]`, so every room has members on every node.
    var rooms = ["Lobby", "Arena", "Den"]
    /// Rooms that exist already (the cluster's `--rooms`); the others are created by their
    /// first member.
    var permanentRooms: Set<String> = ["Lobby"]
    /// Node indices to spread members over; nil: all nodes of the cluster.
    var nodes: [Int]?
    /// Seconds between two public messages of one member (uniformly random).
    var interval: ClosedRange<Double> = 0.05...0.1
}

/// Many chatting members spread over rooms and nodes. `start` connects, logs in and joins
/// them all and waits until every member's user list is whole; `startSending` /
/// `stopSending` run the chat; `finish` ends it the same way for every test (a final
/// round, quiet, user lists) and returns the records a `Verdict` judges.
final class ChatLoad: @unchecked Sendable {
    let plan: ChatPlan
    let members: [ChatMember]
    /// When the load started: event times in reports are relative to it.
    let origin: Date
    private var helpers: [ChatMember] = []

    private init(plan: ChatPlan, members: [ChatMember], origin: Date) {
        self.plan = plan
        self.members = members
        self.origin = origin
    }

    deinit { close() }

    static func start(_ cluster: FaultCluster, _ plan: ChatPlan = ChatPlan()) async throws -> ChatLoad {
        let origin = Date()
        let nodes = plan.nodes ?? Array(cluster.nodes.indices)
        var members: [ChatMember] = []
        for index in 0..<plan.members {
            let node = nodes[index % nodes.count]
            let room = plan.rooms[(index / nodes.count) % plan.rooms.count]
            members.append(try ChatMember(name: String(format: "m%02d", index + 1), room: room, node: node,
                                          port: cluster[node].port, interval: plan.interval))
        }
        let load = ChatLoad(plan: plan, members: members, origin: origin)
        do {
            for member in members { try await member.accepted() }
            for member in members { try await member.login() }
            for room in plan.rooms {
                let inRoom = members.filter { $0.room == room }
                guard let first = inRoom.first else { continue }
                try await first.join(room, create: !plan.permanentRooms.contains(room))
                for member in inRoom.dropFirst() { try await member.join(room) }
            }
            let whole = await load.waitForTrueLists(timeout: 15)
            guard whole else {
                throw TestFailure("setup: user lists not whole within 15 s:\n" + load.listDifferences().joined(separator: "\n"))
            }
        } catch {
            load.close()
            throw error
        }
        return load
    }

    // MARK: Running

    func startSending() {
        for member in members { member.setSending(true) }
    }

    func stopSending() {
        for member in members { member.setSending(false) }
    }

    /// Members whose connection is still open.
    var survivors: [ChatMember] { members.filter { !$0.isClosed } }

    /// The true member list of `room`: its members whose connection survived.
    func truth(_ room: String) -> Set<String> {
        Set(members.filter { $0.room == room && !$0.isClosed }.map(\.name))
    }

    /// Waits until every surviving member's user list is the truth.
    func waitForTrueLists(timeout: Double) async -> Bool {
        await eventually(timeout: .seconds(timeout), every: .milliseconds(50)) { listDifferences().isEmpty }
    }

    /// Members whose user list differs from the truth, described.
    func listDifferences() -> [String] {
        survivors.compactMap { member in
            guard let room = member.room else { return nil }
            let list = member.inspect(\.userList)
            let truth = truth(room)
            guard list != truth else { return nil }
            return "\(member.name) (\(room), n\(member.node + 1)): missing \(truth.subtracting(list).sorted()), extra \(list.subtracting(truth).sorted())"
        }
    }

    /// Ends the chat the same way in every test and returns what happened:
    ///
    /// 1. stop the periodic messages;
    /// 2. a final round: every surviving member sends one more message, and the round waits
    ///    until each has reached every surviving member of its room, sending again after an
    ///    `Error` for it (at most `liveness` seconds: past that, the cluster is not live);
    /// 3. quiet: no frame anywhere for 0.5 s (at most 5 s), so late copies are counted too;
    /// 4. user lists: waits up to 2 s for every surviving member's list to be the truth.
    func finish(liveness: Double = 15) async -> Finish {
        stopSending()
        let finalProblems = await finalRound(timeout: liveness)
        let quietDeadline = Date().addingTimeInterval(5)
        while Date() < quietDeadline {
            let last = members.map { $0.inspect(\.lastFrame) }.max() ?? .distantPast
            let pending = survivors.contains { $0.inspect(\.pending) > 0 }
            if !pending, Date().timeIntervalSince(last) >= 0.5 { break }
            await faultSleep(0.1)
        }
        let listsWhole = await waitForTrueLists(timeout: 2)
        return Finish(records: members.map { $0.record() }, finalRoundProblems: finalProblems,
                      listsWereWholeWithin2s: listsWhole)
    }

    struct Finish: Sendable {
        let records: [MemberRecord]
        let finalRoundProblems: [String]
        let listsWereWholeWithin2s: Bool
    }

    private func finalRound(timeout: Double) async -> [String] {
        let senders = survivors
        var finals: [String: String] = [:]
        var errorsAtFinal: [String: Int] = [:]
        var attempts: [String: Int] = [:]
        for sender in senders {
            errorsAtFinal[sender.name] = sender.inspect(\.publicErrors)
            finals[sender.name] = sender.sendOne()
            attempts[sender.name] = 1
        }
        func reachedAll(_ sender: ChatMember) -> Bool {
            guard let text = finals[sender.name], let room = sender.room else { return true }
            return members.filter { $0.room == room && !$0.isClosed }.allSatisfy { $0.hasReceived(text) }
        }
        var done: Set<String> = []
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline, done.count < senders.count {
            for sender in senders where !done.contains(sender.name) {
                if sender.isClosed || reachedAll(sender) {
                    done.insert(sender.name)
                    continue
                }
                let errors = sender.inspect(\.publicErrors)
                if errors > errorsAtFinal[sender.name] ?? 0 {
                    // Refused with an error: the cluster is not back yet; try again.
                    errorsAtFinal[sender.name] = errors
                    finals[sender.name] = sender.sendOne()
                    attempts[sender.name, default: 0] += 1
                }
            }
            await faultSleep(0.05)
        }
        return senders.filter { !done.contains($0.name) && !reachedAll($0) }.map { sender in
            let room = sender.room ?? "?"
            let missing = members.filter { $0.room == room && !$0.isClosed && !$0.hasReceived(finals[sender.name] ?? "") }
            return "\(sender.name) (\(room), n\(sender.node + 1)): final message \(finals[sender.name] ?? "?") (attempt \(attempts[sender.name] ?? 0)) did not reach \(missing.map(\.name)) within \(Int(timeout)) s"
        }
    }

    // MARK: The cluster's own view

    /// For each room, the user list a newcomer gets from `JoinRoom` (the newcomer itself
    /// left out), asked through node `node`. A room it cannot join maps to nil.
    func serverLists(_ cluster: FaultCluster, node: Int) async -> [String: [String]?] {
        var lists: [String: [String]?] = [:]
        for (index, room) in plan.rooms.enumerated() {
            let name = "observer\(index + 1)"
            guard let observer = try? await helper(name, cluster: cluster, node: node) else {
                lists[room] = .some(nil)
                continue
            }
            let users = try? await observer.join(room)
            lists[room] = .some(users.map { $0.filter { $0 != name } })
            observer.stop()
        }
        return lists
    }

    /// A logged-in helper client (in no room) of node `node`, stopped with the load.
    func helper(_ name: String, cluster: FaultCluster, node: Int) async throws -> ChatMember {
        let member = try ChatMember(name: name, room: nil, node: node, port: cluster[node].port, interval: 1...1)
        helpers.append(member)
        try await member.accepted()
        try await member.login()
        return member
    }

    /// Stops every thread and closes every socket.
    func close() {
        for member in members + helpers { member.stop() }
    }
}

extension ChatLoad.Finish {
    /// Writes every member's events, one per line (`+seconds member event`), to
    /// `directory/name.log`, for reading a failure in detail. The fault tests do so when
    /// `FAULT_DUMP_DIR` is set.
    func dump(to directory: String, name: String, origin: Date) {
        var lines: [String] = []
        for record in records {
            lines.append("# \(record.name) room \(record.room ?? "-") node n\(record.node + 1) sent \(record.sent) unsent \(record.unsent) closed \(record.closed)")
            for event in record.events {
                lines.append(String(format: "+%.3f ", event.at.timeIntervalSince(origin)) + "\(record.name) \(event.kind)")
            }
        }
        let safe = name.map { $0.isLetter || $0.isNumber ? $0 : "-" }
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try? lines.joined(separator: "\n").write(toFile: "\(directory)/\(String(safe)).log", atomically: true, encoding: .utf8)
    }
}
