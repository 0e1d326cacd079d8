import Histogram
import NIOCore

/// Read-only data shared by every event loop during a run.
final class Shared: @unchecked Sendable {
    let config: RunConfig
    let layout: Layout
    let membersPerRoom: [Int]
    /// `b<tag>_`: the user-name prefix, as bytes (senders are recognised by it).
    let prefix: UnsafeMutableRawBufferPointer
    /// Every client by global index (private mode: the recipient returns the sender's credit).
    /// Written once on the main thread before sending starts, read-only afterwards.
    var registry: [Client?] = []

    init(config: RunConfig) {
        self.config = config
        layout = config.layout
        membersPerRoom = config.layout.membersPerRoom
        let bytes = Array(config.namePrefix.utf8)
        prefix = .allocate(byteCount: bytes.count, alignment: 1)
        prefix.copyBytes(from: bytes)
    }

    deinit { prefix.deallocate() }
}

/// The hot counters of one event loop, behind a pointer so that updating them costs a plain
/// store (no exclusivity bookkeeping). Only the loop's thread touches them while the run lasts.
struct HotCounters {
    var delivered: Int64 = 0
    var deliveredInWindow: Int64 = 0
    var foreign: Int64 = 0
    /// Frames that are neither deliveries nor handshake answers (UpdateRoomList, UpdateUserList…).
    var otherFrames: Int64 = 0
    var sent: Int64 = 0
    /// Send phase: sends happen only while `sending` and before `sendEnd`; deliveries received
    /// before `windowEnd` count towards deliveries/s (see LoopState).
    var sending = false
    var sendEnd: UInt64 = 0
    var windowEnd: UInt64 = .max
    var sequence = SequenceCheck()
    var latency = LoopState.makeHistogram()
    var sendLag = LoopState.makeHistogram()
    var loginLatency = LoopState.makeHistogram()
}

/// Everything one event loop owns: its clients, its histograms and counters (merged after the
/// run), the order table of the rooms it sees, and the end-of-tick flush list.
final class LoopState: @unchecked Sendable {
    let loop: EventLoop
    let shared: Shared
    let index: Int
    let hot: UnsafeMutablePointer<HotCounters>
    let order: RoomOrderTable

    /// Clients on this loop that are ready (logged in, in their room).
    var clients: [Client] = []

    var errorFrames: Int64 = 0
    var errorReasons: [String: Int64] = [:]
    var disconnects: Int64 = 0
    var errorSamplesPrinted = 0
    var oversizedFrames: Int64 = 0

    var sending: Bool {
        get { hot.pointee.sending }
        set { hot.pointee.sending = newValue }
    }
    var sendEnd: UInt64 {
        get { hot.pointee.sendEnd }
        set { hot.pointee.sendEnd = newValue }
    }
    var windowEnd: UInt64 {
        get { hot.pointee.windowEnd }
        set { hot.pointee.windowEnd = newValue }
    }

    private var dirty: [Client] = []
    private var flushScheduled = false

    // rate mode: the fixed schedule. Slot k of the whole run belongs to client k mod C and is due
    // at start + k / rate; this loop walks the slots of its own clients in time order.
    private var rateStart: UInt64 = 0
    private var rateRound = 0
    private var rateIndex = 0
    private var rateOrder: [Client] = []

    init(loop: EventLoop, shared: Shared, index: Int) {
        self.loop = loop
        self.shared = shared
        self.index = index
        hot = .allocate(capacity: 1)
        hot.initialize(to: HotCounters())
        order = RoomOrderTable(senders: shared.config.mode == .closed || shared.config.mode == .rate ? shared.layout.clients : 0)
    }

    deinit {
        hot.deinitialize(count: 1)
        hot.deallocate()
    }

    /// Latencies in microseconds, 3 significant digits, up to one hour.
    static func makeHistogram() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    }

    /// Queues a flush of `client` for the end of this loop tick (writes are batched: one flush per
    /// connection per tick, however many messages it wrote).
    @inline(__always)
    func needsFlush(_ client: Client) {
        dirty.append(client)
        if !flushScheduled {
            flushScheduled = true
            loop.execute { self.flushAll() }
        }
    }

    private func flushAll() {
        flushScheduled = false
        let list = dirty
        dirty.removeAll(keepingCapacity: true)
        for c in list { c.flushNow() }
    }

    func recordError(client: Int, reason: String, frame: String?) {
        errorFrames += 1
        errorReasons[reason, default: 0] += 1
        if errorSamplesPrinted < 5 {
            errorSamplesPrinted += 1
            stderrWrite("chorus-bench: client \(client) got Error \"\(reason)\"\(frame.map { ": " + $0 } ?? "")\n")
            if reason == "Flooding" {
                stderrWrite("chorus-bench: the node's flood control refused messages: start the nodes with e.g. --flood-rate 100000 --flood-burst 100000\n")
            }
        }
    }

    // MARK: send phase

    /// closed / private: at `start`, every client sends its window; replacements follow the
    /// returns (own copy, or the recipient's receipt in private mode).
    func startClosed(start: UInt64, end: UInt64) {
        sendEnd = end
        windowEnd = end
        loop.scheduleTask(deadline: .uptimeNanoseconds(start)) {
            self.sending = true
            let w = self.shared.config.window
            let isPrivate = self.shared.config.mode == .private
            for c in self.clients {
                for _ in 0..<w {
                    let now = monotonicNanos()
                    if isPrivate { c.sendPrivate(timestamp: now) } else { c.sendPublic(timestamp: now) }
                }
            }
        }
    }

    /// rate: walk the schedule; each message is stamped with its slot time, not the time it
    /// actually left (so a late generator or a stalled node cannot hide latency).
    func startRate(start: UInt64, end: UInt64) {
        sendEnd = end
        windowEnd = end
        rateStart = start
        rateOrder = clients.sorted { $0.id < $1.id }
        rateRound = 0
        rateIndex = 0
        sending = true
        guard !rateOrder.isEmpty else { return }
        loop.scheduleTask(deadline: .uptimeNanoseconds(slotTime())) { self.rateTick() }
    }

    @inline(__always)
    private func slotTime() -> UInt64 {
        let c = Double(shared.layout.clients)
        let k = Double(rateRound) * c + Double(rateOrder[rateIndex].id)
        return rateStart + UInt64(k * 1e9 / shared.config.rate)
    }

    private func rateTick() {
        let now = monotonicNanos()
        while sending {
            let t = slotTime()
            if t >= sendEnd {
                sending = false
                return
            }
            if t > now {
                loop.scheduleTask(deadline: .uptimeNanoseconds(t)) { self.rateTick() }
                return
            }
            rateOrder[rateIndex].sendPublic(timestamp: t)
            hot.pointee.sendLag.record((now - t) / 1000)
            rateIndex += 1
            if rateIndex == rateOrder.count {
                rateIndex = 0
                rateRound += 1
            }
        }
    }

    func stopSending() -> [(Int, Int)] {
        sending = false
        return clients.map { ($0.id, $0.sent) }
    }

    func closeAll() -> EventLoopFuture<Void> {
        var futures: [EventLoopFuture<Void>] = []
        for c in clients {
            if let ch = c.channel {
                c.closeConnection()
                futures.append(ch.closeFuture)
            } else {
                c.closing = true
            }
        }
        return EventLoopFuture.andAllComplete(futures, on: loop)
    }
}
