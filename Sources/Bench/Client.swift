import NIOCore

/// One simulated user: a connection to a node and its protocol state. Lives on one event loop
/// and is touched only there (other loops reach it through `loop.execute`). Over TCP a frame is
/// an XML document and a zero byte; over WebSocket (`ws`) the client first upgrades `GET /ws`
/// by hand, then sends each document as one masked text frame and reads one per text message.
final class Client: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Phase: Equatable {
        case connecting, awaitingUpgrade, awaitingConnection, awaitingLogin, awaitingCreate, awaitingJoin, ready, failed
    }

    /// Global client index (names, rooms, nodes derive from it).
    let id: Int
    let room: Int
    let member: Int
    let loopState: LoopState
    private let shared: Shared
    /// Log in only (logins mode), or also create/join the room.
    private let joinsRoom: Bool
    private let creates: Bool

    private(set) var phase: Phase = .connecting
    private(set) var channel: Channel?
    private var context: ChannelHandlerContext?
    var closing = false
    private var pendingFlush = false
    var completion: ((Client, String?) -> Void)?

    var connectStart: UInt64 = 0
    private var zone = "Chat"
    private var roomAttempts = 0

    private var splitter = FrameSplitter()
    /// WebSocket: this client speaks PROTOCOL.md 8 (`/ws`) instead of the TCP framing.
    let ws: Bool
    /// WebSocket: the opening handshake until it is done, then the frame reader.
    private var handshake: WebSocketHandshake?
    private var deframer = WebSocketDeframer()
    private var maskState: UInt32
    /// WebSocket: the status code of the node's Close frame, if one came.
    private var closeCode: Int?
    /// Public mode: last sequence seen per sender (by member position in the room).
    private let lastSeen: LastSeen?
    // The receive path reads these per delivery: plain pointers and unowned(unsafe) references
    // (kept alive by `loopState`, `shared` and `lastSeen`) cost no retain/release and no
    // exclusivity bookkeeping.
    private let hot: UnsafeMutablePointer<HotCounters>
    private let order: RoomOrderTable
    private let layout: Layout
    private let prefix: UnsafeRawBufferPointer
    private let lastSeenValues: UnsafeMutablePointer<Int32>?
    private let echoReplaces: Bool
    private let privateMode: Bool
    /// The previous message this client saw in its room (for the order agreement table).
    private let lastKey: UnsafeMutablePointer<UInt64>
    /// Private mode: last sequence seen per sender, and next sequence per recipient.
    private var privateLast: [Int: Int32] = [:]
    private var privateNext: [Int: Int32] = [:]
    private var random: UInt64

    /// Messages this client sent in the send phase (its sequence numbers are 0..<sent).
    private(set) var sent = 0

    init(id: Int, loopState: LoopState, joinsRoom: Bool, creates: Bool) {
        self.id = id
        self.loopState = loopState
        shared = loopState.shared
        let layout = shared.layout
        room = layout.room(of: id)
        member = layout.member(of: id)
        self.joinsRoom = joinsRoom
        self.creates = creates
        let mode = shared.config.mode
        lastSeen = (mode == .closed || mode == .rate) ? LastSeen(count: shared.membersPerRoom[room]) : nil
        random = (shared.config.seed &+ UInt64(id)) &* 0x9E37_79B9_7F4A_7C15 | 1
        ws = shared.config.transport.usesWebSocket(id, layout: layout)
        maskState = UInt32(truncatingIfNeeded: random >> 17) | 1
        hot = loopState.hot
        order = loopState.order
        self.layout = layout
        prefix = UnsafeRawBufferPointer(shared.prefix)
        lastSeenValues = lastSeen?.values
        echoReplaces = mode == .closed
        privateMode = mode == .private
        lastKey = .allocate(capacity: 1)
        lastKey.initialize(to: noPredecessor)
    }

    deinit {
        lastKey.deallocate()
    }

    // MARK: connection life cycle

    func connected(_ channel: Channel) {
        self.channel = channel
        if phase == .failed { channel.close(promise: nil) }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        channel = context.channel
    }

    func channelActive(context: ChannelHandlerContext) {
        if phase == .connecting {
            if ws {
                phase = .awaitingUpgrade
                var g = SystemRandomNumberGenerator()
                let hs = WebSocketHandshake(keyBytes: (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) })
                handshake = hs
                let host = shared.config.wsNodes[layout.node(of: id)].description
                var buf = context.channel.allocator.buffer(capacity: 200)
                buf.writeString(hs.request(host: host, path: "/ws"))
                context.writeAndFlush(NIOAny(buf), promise: nil)
            } else {
                phase = .awaitingConnection
            }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !closing && phase != .failed {
            let how = closeCode.map { " (WebSocket Close \($0))" } ?? ""
            if phase == .ready {
                loopState.disconnects += 1
                if loopState.disconnects <= 5 {
                    stderrWrite("chorus-bench: client \(id) (\(shared.config.userName(id))) was disconnected by the node\(how)\n")
                }
            } else if phase == .awaitingUpgrade {
                fail("connection closed before the WebSocket upgrade was answered (is \(shared.config.wsNodes[layout.node(of: id)]) the node's --http-port?)")
            } else {
                fail("connection closed by the node during the handshake\(how)")
            }
        }
        self.context = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if !closing {
            if phase == .ready {
                loopState.disconnects += 1
                stderrWrite("chorus-bench: client \(id): \(error)\n")
            } else {
                fail("\(error)")
            }
        }
        closing = true
        context.close(promise: nil)
    }

    /// Ends the handshake with an error (once): reports it and closes the connection.
    func fail(_ reason: String) {
        guard phase != .failed, phase != .ready else { return }
        phase = .failed
        closing = true
        channel?.close(promise: nil)
        let done = completion
        completion = nil
        done?(self, reason)
    }

    func handshakeTimedOut() {
        if phase != .ready && phase != .failed { fail("no answer within the handshake timeout (phase \(phase))") }
    }

    private func becomeReady() {
        phase = .ready
        loopState.clients.append(self)
        let done = completion
        completion = nil
        done?(self, nil)
    }

    // MARK: receiving

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { raw in
            receiveBytes(raw, now: monotonicNanos())
        }
    }

    /// Everything one read brought, over this client's transport.
    @inline(__always)
    func receiveBytes(_ raw: UnsafeRawBufferPointer, now: UInt64) {
        if ws {
            receiveWebSocket(raw, now: now)
        } else {
            receive(raw, now: now)
        }
    }

    /// WebSocket: the rest of the upgrade response, then frames; each text message is one frame
    /// of the protocol. (The scanner runs in `onText`, apart from the deframer: inlined into one
    /// large function with it, the optimizer stopped inlining the scanner's byte reads, which
    /// doubled the cost of a delivery.)
    @inline(never)
    private func receiveWebSocket(_ raw: UnsafeRawBufferPointer, now: UInt64) {
        var raw = raw
        if phase == .awaitingUpgrade {
            guard let rest = upgrade(raw) else { return }
            raw = rest
        }
        let failure = deframer.feed(raw) { opcode, payload in
            if opcode == .text {
                self.onText(payload, now: now)
            } else {
                self.onControl(opcode, payload)
            }
        }
        if let failure { failWebSocket("\(failure)", code: 1002) }
    }

    /// WebSocket: one text message, one frame of the protocol.
    @inline(never)
    private func onText(_ frame: UnsafeRawBufferPointer, now: UInt64) {
        handle(frame, now: now)
    }

    /// WebSocket: feeds the upgrade response; the bytes after it once the upgrade is done.
    @inline(never)
    private func upgrade(_ raw: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard var hs = handshake else { return nil }
        switch hs.feed(raw) {
        case .needMore:
            handshake = hs
            return nil
        case .failed(let why):
            handshake = nil
            fail("WebSocket upgrade of \(shared.config.wsNodes[layout.node(of: id)])/ws: \(why)")
            return nil
        case .upgraded(let consumed):
            handshake = nil
            phase = .awaitingConnection
            return UnsafeRawBufferPointer(rebasing: raw[consumed...])
        }
    }

    /// WebSocket: everything but a text message.
    @inline(never)
    private func onControl(_ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer) {
        guard let context, !closing else { return }
        switch opcode {
        case .ping:
            context.writeAndFlush(NIOAny(WebSocketClientFrame.make(.pong, payload: payload, maskKey: nextMaskKey(), allocator: context.channel.allocator)), promise: nil)
        case .close:
            // Answer with the same status (RFC 6455 5.5.1) and let the node close the TCP connection.
            closeCode = payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : 1005
            let echo = payload.count >= 2 ? Array(payload.prefix(2)) : []
            context.writeAndFlush(NIOAny(WebSocketClientFrame.make(.close, payload: echo, maskKey: nextMaskKey(), allocator: context.channel.allocator)), promise: nil)
        case .binary:
            failWebSocket("WebSocket: a binary message on /ws (PROTOCOL.md 8: one XML document per text message)", code: 1003)
        case .pong, .text, .continuation:
            break
        }
    }

    /// WebSocket: the stream is unusable. Closes with `code` and counts it like a disconnect (or
    /// fails the handshake).
    @inline(never)
    private func failWebSocket(_ why: String, code: UInt16) {
        if phase == .ready {
            loopState.disconnects += 1
            if loopState.disconnects <= 5 { stderrWrite("chorus-bench: client \(id): \(why)\n") }
            closing = true
            sendClose(code)
            channel?.close(promise: nil)
        } else {
            sendClose(code)
            fail(why)
        }
    }

    private func sendClose(_ code: UInt16) {
        guard let context else { return }
        let payload = [UInt8(code >> 8), UInt8(code & 0xFF)]
        context.writeAndFlush(NIOAny(WebSocketClientFrame.make(.close, payload: payload, maskKey: nextMaskKey(), allocator: context.channel.allocator)), promise: nil)
    }

    /// Closes the connection at the end of a run (a WebSocket says goodbye with Close 1000 first).
    func closeConnection() {
        closing = true
        if ws && phase == .ready { sendClose(1000) }
        channel?.close(promise: nil)
    }

    /// A fresh masking key per frame (xorshift32; RFC 6455 5.3 wants it unpredictable to
    /// intermediaries, which a benchmark on loopback does not have).
    @inline(__always)
    private func nextMaskKey() -> UInt32 {
        maskState ^= maskState << 13
        maskState ^= maskState >> 17
        maskState ^= maskState << 5
        return maskState
    }

    /// Everything one read brought: split into frames, handle each (one clock read per read).
    @inline(__always)
    func receive(_ raw: UnsafeRawBufferPointer, now: UInt64) {
        splitter.feed(raw) { frame in
            self.handle(frame, now: now)
        }
    }

    @inline(__always)
    private func handle(_ frame: UnsafeRawBufferPointer, now: UInt64) {
        let (kind, after) = FrameScanner.classify(frame)
        switch kind {
        case .publicMessage:
            onPublic(frame, after: after, now: now)
        case .privateMessage:
            onPrivate(frame, after: after, now: now)
        case .other:
            hot.pointee.otherFrames &+= 1
        case .error:
            let reason = FrameScanner.reason(frame) ?? "?"
            loopState.recordError(client: id, reason: reason, frame: String(decoding: frame.prefix(300), as: UTF8.self))
        default:
            if phase != .ready { handshake(kind, frame) }
        }
    }

    @inline(__always)
    private func onPublic(_ frame: UnsafeRawBufferPointer, after: Int, now: UInt64) {
        let hot = self.hot
        guard let m = FrameScanner.message(frame, from: after) else {
            hot.pointee.foreign += 1
            return
        }
        let layout = self.layout
        let sender = FrameScanner.clientIndex(frame, start: m.userStart, end: m.userEnd, prefix: prefix)
        guard sender >= 0, sender < layout.clients, layout.room(of: sender) == room, let lastSeenValues else {
            hot.pointee.foreign += 1
            return
        }
        recordDelivery(sentAt: UInt64(m.timestamp), now: now)
        let seq = Int(truncatingIfNeeded: m.sequence)
        hot.pointee.sequence.observe(Int32(truncatingIfNeeded: seq), last: &lastSeenValues[layout.member(of: sender)])
        order.observe(sender: sender, seq: seq, predecessor: lastKey.pointee)
        lastKey.pointee = messageKey(sender: sender, seq: seq)
        if sender == id, echoReplaces, hot.pointee.sending {
            // Our own copy is back: the message left flight; send its replacement now, in this read.
            let t = monotonicNanos()
            if t < hot.pointee.sendEnd { sendPublic(timestamp: t) }
        }
    }

    /// Counts one delivery and its latency (µs) from the send time it carried.
    private func recordDelivery(sentAt ts: UInt64, now: UInt64) {
        let hot = self.hot
        hot.pointee.latency.record(now > ts ? (now - ts) / 1000 : 0)
        hot.pointee.delivered += 1
        if now < hot.pointee.windowEnd { hot.pointee.deliveredInWindow += 1 }
    }

    private func onPrivate(_ frame: UnsafeRawBufferPointer, after: Int, now: UInt64) {
        let hot = self.hot
        guard let m = FrameScanner.message(frame, from: after) else {
            hot.pointee.foreign += 1
            return
        }
        let sender = FrameScanner.clientIndex(frame, start: m.userStart, end: m.userEnd, prefix: prefix)
        guard sender >= 0, sender < layout.clients else {
            hot.pointee.foreign += 1
            return
        }
        recordDelivery(sentAt: UInt64(m.timestamp), now: now)
        var last = privateLast[sender] ?? -1
        hot.pointee.sequence.observe(Int32(truncatingIfNeeded: m.sequence), last: &last)
        privateLast[sender] = last
        // The message left the sender's flight: give the sender its credit back.
        if privateMode, sender < shared.registry.count, let s = shared.registry[sender] {
            if s.loopState === loopState {
                s.credit()
            } else {
                s.loopState.loop.execute { s.credit() }
            }
        }
    }

    /// Private mode: one of our messages arrived; send the next one if the phase is on.
    func credit() {
        guard hot.pointee.sending, phase == .ready else { return }
        let t = monotonicNanos()
        if t < hot.pointee.sendEnd { sendPrivate(timestamp: t) }
    }

    // MARK: handshake

    private func handshake(_ kind: FrameKind, _ frame: UnsafeRawBufferPointer) {
        switch (phase, kind) {
        case (.awaitingConnection, .connectionResponse), (.connecting, .connectionResponse):
            if FrameScanner.result(frame) == "Accepted" {
                phase = .awaitingLogin
                sendLogin()
            } else {
                fail("connection refused: \(FrameScanner.reason(frame) ?? FrameScanner.result(frame) ?? "?")")
            }
        case (.awaitingLogin, .roomList):
            if let z = Scan.text(after: "<Name>", in: frame), !z.isEmpty { zone = z }
        case (.awaitingLogin, .loginResponse):
            guard FrameScanner.result(frame) == "Accepted" else {
                fail("login denied: \(FrameScanner.reason(frame) ?? "?")")
                return
            }
            let now = monotonicNanos()
            hot.pointee.loginLatency.record((now - connectStart) / 1000)
            if !joinsRoom {
                becomeReady()
            } else if creates {
                phase = .awaitingCreate
                sendCreateRoom()
            } else {
                phase = .awaitingJoin
                sendJoinRoom()
            }
        case (.awaitingCreate, .createRoom):
            if FrameScanner.result(frame) == "Success" {
                phase = .awaitingJoin  // the node joins the creator; JoinRoom Success follows
            } else if FrameScanner.reason(frame) == "Room already exists", retryRoom() {
                phase = .awaitingJoin
                sendJoinRoom()
            } else {
                fail("CreateRoom failed: \(FrameScanner.reason(frame) ?? "?")")
            }
        case (.awaitingJoin, .joinRoom):
            if FrameScanner.result(frame) == "Success" {
                becomeReady()
            } else if FrameScanner.reason(frame) == "Room does not exist", retryRoom() {
                phase = .awaitingCreate
                sendCreateRoom()
            } else {
                fail("JoinRoom failed: \(FrameScanner.reason(frame) ?? "?")")
            }
        default:
            break
        }
    }

    private func retryRoom() -> Bool {
        roomAttempts += 1
        return roomAttempts <= 20
    }

    // MARK: sending

    private func writeRaw(_ text: String) {
        guard let context else { return }
        var (buf, start) = startMessage(context, capacity: text.utf8.count)
        buf.writeString(text)
        endMessage(&buf, start: start)
        context.writeAndFlush(NIOAny(buf), promise: nil)
    }

    /// A buffer for one outgoing document of up to about `capacity` bytes; WebSocket: with the
    /// frame header's headroom reserved. Returns where the document starts.
    @inline(__always)
    private func startMessage(_ context: ChannelHandlerContext, capacity: Int) -> (ByteBuffer, Int) {
        if ws {
            var buf = context.channel.allocator.buffer(capacity: capacity + WebSocketClientFrame.headroom)
            let start = WebSocketClientFrame.begin(&buf)
            return (buf, start)
        }
        return (context.channel.allocator.buffer(capacity: capacity + 1), 0)
    }

    /// Ends the document: TCP, its zero byte; WebSocket, one masked text frame around it.
    @inline(__always)
    private func endMessage(_ buf: inout ByteBuffer, start: Int) {
        if ws {
            WebSocketClientFrame.seal(&buf, payloadStart: start, opcode: .text, maskKey: nextMaskKey())
        } else {
            buf.writeInteger(UInt8(0))
        }
    }

    private func sendLogin() {
        writeRaw("<XmlDoc><Action>Login</Action><Parameters><Name>\(shared.config.userName(id))</Name><Password></Password></Parameters></XmlDoc>")
    }

    private func sendJoinRoom() {
        writeRaw("<XmlDoc><Action>JoinRoom</Action><Parameters><Zone><Name>\(xmlEscape(zone))</Name><Room><Name>\(shared.config.roomName(room))</Name></Room></Zone></Parameters></XmlDoc>")
    }

    private func sendCreateRoom() {
        writeRaw("<XmlDoc><Action>CreateRoom</Action><Parameters><Zone><Name>\(xmlEscape(zone))</Name><Room><Name>\(shared.config.roomName(room))</Name><Capacity>-1</Capacity></Room></Zone></Parameters></XmlDoc>")
    }

    /// `ts seq xxx…`: send time (ns, monotonic), this sender's sequence number, padding up to
    /// --payload bytes.
    @inline(__always)
    private func writeText(_ buf: inout ByteBuffer, timestamp: UInt64, seq: Int) {
        var used = writeDecimal(timestamp, into: &buf)
        buf.writeInteger(UInt8(ascii: " "))
        used += 1 + writeDecimal(UInt64(seq), into: &buf)
        buf.writeInteger(UInt8(ascii: " "))
        used += 1
        let pad = shared.config.payload - used
        if pad > 0 { buf.writeRepeatingByte(UInt8(ascii: "x"), count: pad) }
    }

    func sendPublic(timestamp: UInt64) {
        guard let context else { return }
        var (buf, start) = startMessage(context, capacity: 112 + shared.config.payload)
        buf.writeStaticString("<XmlDoc><Action>SendPublicMessage</Action><Parameters><Message>")
        writeText(&buf, timestamp: timestamp, seq: sent)
        buf.writeStaticString("</Message><Variables/></Parameters></XmlDoc>")
        endMessage(&buf, start: start)
        sent += 1
        hot.pointee.sent += 1
        context.write(NIOAny(buf), promise: nil)
        if !pendingFlush {
            pendingFlush = true
            loopState.needsFlush(self)
        }
    }

    func sendPrivate(timestamp: UInt64) {
        guard let context else { return }
        let to = pickRecipient()
        let seq = privateNext[to] ?? 0
        privateNext[to] = seq + 1
        var (buf, start) = startMessage(context, capacity: 160 + shared.config.payload)
        buf.writeStaticString("<XmlDoc><Action>SendPrivateMessage</Action><Parameters><Users><User>")
        buf.writeBytes(UnsafeRawBufferPointer(shared.prefix))
        _ = writeDecimal(UInt64(to), into: &buf)
        buf.writeStaticString("</User></Users><Message>")
        writeText(&buf, timestamp: timestamp, seq: Int(seq))
        buf.writeStaticString("</Message></Parameters></XmlDoc>")
        endMessage(&buf, start: start)
        sent += 1
        hot.pointee.sent += 1
        context.write(NIOAny(buf), promise: nil)
        if !pendingFlush {
            pendingFlush = true
            loopState.needsFlush(self)
        }
    }

    /// The highest sequence this receiver saw from the room member at position `member` (-1: none).
    func lastSeenSequence(member: Int) -> Int32 { lastSeen.map { member < $0.count ? $0.values[member] : -1 } ?? -1 }

    func flushNow() {
        pendingFlush = false
        context?.flush()
    }

    /// A random recipient on another node than ours (any other client with a single node).
    private func pickRecipient() -> Int {
        let layout = shared.layout
        let n = layout.clients
        guard n > 1 else { return id }
        while true {
            random ^= random << 13
            random ^= random >> 7
            random ^= random << 17
            let j = Int(random % UInt64(n))
            if j == id { continue }
            if layout.nodes > 1 && layout.node(of: j) == layout.node(of: id) { continue }
            return j
        }
    }
}

/// Writes `v` in decimal; returns the number of digits.
@inline(__always)
func writeDecimal(_ v: UInt64, into buf: inout ByteBuffer) -> Int {
    var digits = 1
    var t = v
    while t >= 10 {
        t /= 10
        digits += 1
    }
    buf.writeWithUnsafeMutableBytes(minimumWritableBytes: digits) { p in
        var x = v
        var i = digits - 1
        while true {
            p[i] = UInt8(truncatingIfNeeded: 48 &+ x % 10)
            x /= 10
            if i == 0 { break }
            i -= 1
        }
        return digits
    }
    return digits
}

func xmlEscape(_ s: String) -> String {
    var out = ""
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        default: out.append(c)
        }
    }
    return out
}
