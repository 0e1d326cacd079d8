import Histogram
import NIOCore
import NIOPosix
import Synchronization

// churn: connect/close cycles as fast as --concurrency allows, against the first node of
// --nodes, and the growth of that node's resident memory per cycle after a warm-up. A node that
// leaks per connection (a handler kept alive by its context, a map entry never removed) shows
// up here as bytes per cycle; one that does not stays flat once its allocator has warmed up.

/// What one cycle does. `hold` and `probe` are not cycles: they fill and test the node's limit
/// before the cycles start.
enum ChurnKind: Int, Sendable, CaseIterable {
    /// Accepted, then closed by the generator at once (nothing read, nothing sent).
    case closed
    /// ConnectionResponse Accepted, Login with a name unique to the cycle, LoginResponse, close.
    case login
    /// ConnectionResponse Accepted, a frame that is not well-formed XML, Error, close.
    case malformed
    /// ConnectionResponse Accepted, Ping, Pong, close.
    case ping
    /// ConnectionResponse Denied `Server is full` (the node is held full for this address), close.
    case denied
    case hold
    case probe

    static let cycleKinds: [ChurnKind] = [.closed, .login, .malformed, .ping, .denied]
    var name: String { ["closed", "login", "malformed", "ping", "denied", "hold", "probe"][rawValue] }
}

/// Which kind cycle i is: a `deniedFraction` share of denials spread evenly (cycle i is a denial
/// when ⌊(i+1)·f⌋ > ⌊i·f⌋), and the other cycles rotating through closed, login, malformed, ping.
struct ChurnPlan: Sendable, Equatable {
    var deniedFraction: Double

    private func deniedBefore(_ i: Int) -> Int {
        deniedFraction > 0 ? Int((Double(i) * deniedFraction).rounded(.down)) : 0
    }

    func kind(_ i: Int) -> ChurnKind {
        let before = deniedBefore(i)
        if deniedBefore(i + 1) > before { return .denied }
        return ChurnKind.cycleKinds[(i - before) % 4]
    }
}

/// Counters the loops share: the next cycle to start and the end of the current phase.
final class ChurnCounters: Sendable {
    let next = Atomic<Int>(0)
    let limit = Atomic<Int>(0)
    let completed = Atomic<Int>(0)

    /// The next cycle index below the phase limit, or nil when the phase has handed out all.
    func claim() -> Int? {
        var current = next.load(ordering: .relaxed)
        while true {
            guard current < limit.load(ordering: .relaxed) else { return nil }
            let (exchanged, original) = next.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return current }
            current = original
        }
    }
}

/// Where the connections come from and go to.
struct ChurnRoute: @unchecked Sendable {
    let target: SocketAddress
    /// Held connections and denied cycles bind here (the address whose limit is held full).
    let heldSource: SocketAddress?
    /// Every other cycle binds here (nil: the kernel's choice).
    let otherSource: SocketAddress?
    let connectTimeout: TimeAmount
    let answerTimeout: TimeAmount
}

/// One connection of the churn: a tiny state machine, closed once it got what its kind waits for.
final class ChurnConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let index: Int
    let kind: ChurnKind
    let name: String
    var start: UInt64 = 0
    /// Cleared when the connection ends, so nothing here keeps a channel (or its pipeline) alive.
    private(set) var channel: Channel?
    private var splitter = FrameSplitter(maxFrameBytes: 65536)
    /// nil while undecided; "" when the cycle did what its kind expects; otherwise what went wrong.
    private(set) var verdict: String?
    var timeout: Scheduled<Void>?
    /// hold/probe: called once with the ConnectionResponse (true: Accepted).
    var onAnswer: ((ChurnConnection, Bool) -> Void)?
    /// Called once, when the connection is closed (or could not be made).
    var onEnd: ((ChurnConnection) -> Void)?
    /// A ConnectionResponse arrived.
    private(set) var answered = false
    private var ended = false

    init(index: Int, kind: ChurnKind, name: String) {
        self.index = index
        self.kind = kind
        self.name = name
    }

    var succeeded: Bool { verdict == "" }

    func handlerAdded(context: ChannelHandlerContext) {
        channel = context.channel
    }

    func channelActive(context: ChannelHandlerContext) {
        if kind == .closed {
            decide("")
            context.close(promise: nil)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { raw in
            splitter.feed(raw) { frame in self.handle(frame, context: context) }
        }
    }

    private func handle(_ frame: UnsafeRawBufferPointer, context: ChannelHandlerContext) {
        let action = Scan.text(after: "<Action>", in: frame) ?? ""
        switch action {
        case "ConnectionResponse":
            let accepted = FrameScanner.result(frame) == "Accepted"
            let reason = FrameScanner.reason(frame) ?? FrameScanner.result(frame) ?? "?"
            answered = true
            if let onAnswer {
                self.onAnswer = nil
                onAnswer(self, accepted)
            }
            switch (kind, accepted) {
            case (.hold, true):
                timeout?.cancel()  // stays open until released
                timeout = nil
                return
            case (.closed, _):
                return  // closed at channelActive already
            case (.login, true):
                write(context, "<XmlDoc><Action>Login</Action><Parameters><Name>\(name)</Name><Password></Password></Parameters></XmlDoc>")
            case (.malformed, true):
                // Not well-formed: <Parameters> is never closed.
                write(context, "<XmlDoc><Action>Ping</Action><Parameters></XmlDoc>")
            case (.ping, true):
                write(context, "<XmlDoc><Action>Ping</Action><Parameters/></XmlDoc>")
            case (.denied, true):
                finish(context, "denied cycle was accepted (the node is no longer full for its address)")
            case (.probe, true):
                finish(context, "")
            case (.denied, false), (.hold, false), (.probe, false):
                finish(context, reason == "Server is full" || kind != .denied ? "" : "denied, but \"\(reason)\"")
            default:
                finish(context, "connection denied: \(reason)")
            }
        case "LoginResponse":
            guard kind == .login else { return }
            finish(context, FrameScanner.result(frame) == "Accepted" ? "" : "login denied: \(FrameScanner.reason(frame) ?? "?")")
        case "Error":
            let reason = FrameScanner.reason(frame) ?? "?"
            finish(context, kind == .malformed && reason == "Malformed message" ? "" : "Error \"\(reason)\"")
        case "Pong":
            if kind == .ping { finish(context, "") }
        default:
            break  // RoomList before LoginResponse, Pong of a held connection's keep-alive
        }
    }

    private func write(_ context: ChannelHandlerContext, _ text: String) {
        var buf = context.channel.allocator.buffer(capacity: text.utf8.count + 1)
        buf.writeString(text)
        buf.writeInteger(UInt8(0))
        context.writeAndFlush(wrapOutboundOut(buf), promise: nil)
    }

    private func decide(_ v: String) {
        if verdict == nil { verdict = v }
    }

    private func finish(_ context: ChannelHandlerContext, _ v: String) {
        decide(v)
        context.close(promise: nil)
    }

    /// A held connection's keep-alive (the node closes connections idle for its idle timeout).
    func ping() {
        guard let channel else { return }
        var buf = channel.allocator.buffer(capacity: 64)
        buf.writeString("<XmlDoc><Action>Ping</Action><Parameters/></XmlDoc>\0")
        channel.writeAndFlush(buf, promise: nil)
    }

    func close() {
        channel?.close(promise: nil)
    }

    func timedOut() {
        decide("no answer within \(kind == .hold || kind == .probe ? "the connect" : "the cycle") timeout")
        channel?.close(promise: nil)
    }

    func connectFailed(_ error: Error) {
        decide("connect: \(error)")
        end()
    }

    func channelInactive(context: ChannelHandlerContext) {
        decide("closed by the node before the answer")
        end()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        decide("\(error)")
        context.close(promise: nil)
    }

    private func end() {
        guard !ended else { return }
        ended = true
        timeout?.cancel()
        timeout = nil
        channel = nil
        onAnswer = nil
        let done = onEnd
        onEnd = nil
        done?(self)
    }

    /// Opens the connection on `loop` (call on that loop).
    static func open(_ conn: ChurnConnection, on loop: EventLoop, route: ChurnRoute) {
        var bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(route.connectTimeout)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(conn) }
            }
        let source = conn.kind == .denied || conn.kind == .hold ? route.heldSource : route.otherSource
        if let source { bootstrap = bootstrap.bind(to: source) }
        conn.start = monotonicNanos()
        conn.timeout = loop.scheduleTask(in: route.answerTimeout) { conn.timedOut() }
        bootstrap.connect(to: route.target).whenFailure { error in conn.connectFailed(error) }
    }
}

/// Per-loop results of the cycles, merged after each phase.
struct ChurnTally: @unchecked Sendable {
    var done = [Int](repeating: 0, count: ChurnKind.allCases.count)
    var ok = [Int](repeating: 0, count: ChurnKind.allCases.count)
    var failures: [String: Int] = [:]
    var cycleTime = LoopState.makeHistogram()

    mutating func merge(_ o: ChurnTally) {
        for k in done.indices {
            done[k] += o.done[k]
            ok[k] += o.ok[k]
        }
        for (r, n) in o.failures { failures[r, default: 0] += n }
        cycleTime.add(o.cycleTime)
    }

    var failed: Int { zip(done, ok).map { $0 - $1 }.reduce(0, +) }
}

/// The cycles of one event loop: keeps its share of --concurrency in flight until the phase's
/// cycles are handed out and done. Touched only on its loop.
final class ChurnLoop: @unchecked Sendable {
    let loop: EventLoop
    private let slots: Int
    private let counters: ChurnCounters
    private let plan: ChurnPlan
    private let route: ChurnRoute
    private let namePrefix: String
    private var active = 0
    private var phaseDone: EventLoopPromise<Void>?
    private(set) var tally = ChurnTally()
    private var printedFailures = 0

    init(loop: EventLoop, slots: Int, counters: ChurnCounters, plan: ChurnPlan, route: ChurnRoute, namePrefix: String) {
        self.loop = loop
        self.slots = slots
        self.counters = counters
        self.plan = plan
        self.route = route
        self.namePrefix = namePrefix
    }

    /// Runs cycles until `counters.limit` is reached; the future completes when this loop's are done.
    func runPhase() -> EventLoopFuture<Void> {
        let p = loop.makePromise(of: Void.self)
        loop.execute {
            self.phaseDone = p
            self.fill()
        }
        return p.futureResult
    }

    private func fill() {
        while active < slots, let i = counters.claim() {
            active += 1
            let kind = plan.kind(i)
            let conn = ChurnConnection(index: i, kind: kind, name: namePrefix + String(i))
            conn.onEnd = { [unowned self] c in self.ended(c) }
            ChurnConnection.open(conn, on: loop, route: route)
        }
        if active == 0, let p = phaseDone {
            phaseDone = nil
            p.succeed(())
        }
    }

    private func ended(_ c: ChurnConnection) {
        active -= 1
        let k = c.kind.rawValue
        tally.done[k] += 1
        if c.succeeded {
            tally.ok[k] += 1
            tally.cycleTime.record((monotonicNanos() - c.start) / 1000)
        } else {
            let reason = String((c.verdict ?? "?").prefix(120))
            if tally.failures[reason] == nil && printedFailures < 5 {
                printedFailures += 1
                stderrWrite("chorus-bench: churn cycle \(c.index) (\(c.kind.name)) failed: \(reason)\n")
            }
            tally.failures[reason, default: 0] += 1
        }
        counters.completed.wrappingAdd(1, ordering: .relaxed)
        // Start the replacement in a later tick, so a burst of failures cannot recurse deeply.
        loop.execute { self.fill() }
    }
}

/// Holds the node full for one source address before the cycles start. Lives on one loop.
final class ChurnHolder: @unchecked Sendable {
    let loop: EventLoop
    private let route: ChurnRoute
    private let concurrency: Int
    private let max: Int
    private(set) var held: [ChurnConnection] = []
    private var launched = 0
    private var pending = 0
    private(set) var sawFull = false
    private(set) var lost = 0
    private(set) var failures: [String: Int] = [:]
    private var releasing = false
    private var done: EventLoopPromise<Void>?
    private var keepAlive: RepeatedTask?

    init(loop: EventLoop, route: ChurnRoute, concurrency: Int, max: Int) {
        self.loop = loop
        self.route = route
        self.concurrency = concurrency
        self.max = max
    }

    /// Opens connections from the held address until the node answers Denied or `max` are held.
    func fill() -> EventLoopFuture<Void> {
        let p = loop.makePromise(of: Void.self)
        loop.execute {
            self.done = p
            self.launch()
        }
        return p.futureResult
    }

    private func launch() {
        while !sawFull && pending < concurrency && launched < max && failures.count == 0 {
            launched += 1
            pending += 1
            let conn = ChurnConnection(index: launched, kind: .hold, name: "")
            conn.onAnswer = { [unowned self] c, accepted in
                self.pending -= 1
                if accepted { self.held.append(c) } else { self.sawFull = true }
                self.launch()
            }
            conn.onEnd = { [unowned self] c in
                if !c.answered {
                    self.pending -= 1
                    self.failures[c.verdict ?? "?", default: 0] += 1
                    self.launch()
                } else if let k = self.held.firstIndex(where: { $0 === c }), !self.releasing {
                    self.held.remove(at: k)
                    self.lost += 1
                }
            }
            ChurnConnection.open(conn, on: loop, route: route)
        }
        if pending == 0, let p = done {
            done = nil
            keepAlive = loop.scheduleRepeatedTask(initialDelay: .seconds(60), delay: .seconds(60)) { [unowned self] _ in
                for c in self.held { c.ping() }
            }
            p.succeed(())
        }
    }

    /// Closes every held connection; completes when they are closed.
    func release() -> EventLoopFuture<Void> {
        loop.flatSubmit {
            self.releasing = true
            self.keepAlive?.cancel()
            let futures = self.held.compactMap { c -> EventLoopFuture<Void>? in
                guard let ch = c.channel else { return nil }
                ch.close(promise: nil)
                return ch.closeFuture
            }
            self.held.removeAll()
            return EventLoopFuture.andAllComplete(futures, on: self.loop)
        }
    }

    /// One connection from the other cycles' address: true when the node accepts it.
    func probe() -> EventLoopFuture<Bool> {
        loop.flatSubmit {
            let p = self.loop.makePromise(of: Bool.self)
            let conn = ChurnConnection(index: 0, kind: .probe, name: "")
            var answer: Bool?
            conn.onAnswer = { _, accepted in answer = accepted }
            conn.onEnd = { _ in p.succeed(answer ?? false) }
            ChurnConnection.open(conn, on: self.loop, route: self.route)
            return p.futureResult
        }
    }
}

/// Set once from an event loop, read by the main thread.
final class DoneFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

struct ChurnRun {
    let config: RunConfig

    /// One settled reading of the watched processes.
    struct Sample {
        var rssKB: [Int64]
        var fds: [Int]
        var settleWait: Double
    }

    func run() throws -> JSONValue {
        let fdLimit = raiseDescriptorLimit()
        let node = config.nodes[0]
        let target: SocketAddress
        if let a = try? SocketAddress(ipAddress: node.host, port: node.port) {
            target = a
        } else {
            target = try SocketAddress.makeAddressResolvingHost(node.host, port: node.port)
        }
        // Held connections and denials need an address of their own: the first --source-ips, or
        // 127.0.0.2 when the node is on loopback (every 127/8 address is local on Linux).
        let heldIP: String? = config.sourceIPs.first ?? (node.host.hasPrefix("127.") && config.churnDenied > 0 ? "127.0.0.2" : nil)
        let otherIP: String? = config.sourceIPs.count > 1 ? config.sourceIPs[1] : nil
        let route = ChurnRoute(
            target: target,
            heldSource: try heldIP.map { try SocketAddress(ipAddress: $0, port: 0) },
            otherSource: try otherIP.map { try SocketAddress(ipAddress: $0, port: 0) },
            connectTimeout: .seconds(10),
            answerTimeout: .nanoseconds(Int64(config.handshakeTimeout * 1e9)))
        let watched = config.watched
        let nodeWatch = watched.firstIndex { $0.node == 0 } ?? (watched.isEmpty ? nil : 0)

        var o = JSONObject()
        o.set("label", config.label)
        o.set("mode", config.mode.rawValue)
        o.set("nodes", .array(config.nodes.map { .string($0.description) }))
        o.set("target", node.description)
        o.set("threads", config.threads)
        o.set("tag", config.tag)
        o.set("concurrency", config.concurrency)
        o.set("cycles", config.churnCycles)
        o.set("warmup", config.churnWarmup)
        o.set("settle_s", config.settle)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: config.threads)
        defer { try? group.syncShutdownGracefully() }
        let loops = Array(group.makeIterator())

        let start = sample(watched, target: nodeWatch, expectedFDs: nil, settle: 0)
        config.progress("churn: \(node) \(nodeWatch.map { "RSS \(start.rssKB[$0]) kB, \(start.fds[$0]) descriptors" } ?? "(no --pid: no memory figures)")")

        // Denials: hold the node full for one address, check that the other address is still
        // admitted (the limit is per address), else skip them.
        var plan = ChurnPlan(deniedFraction: config.churnDenied)
        var holder: ChurnHolder?
        var denials = "off"
        var denialsNote = "--denied 0"
        if config.churnDenied > 0 {
            let cap = Swift.max(0, Swift.min(config.churnHoldMax, fdLimit - config.concurrency - 256))
            let h = ChurnHolder(loop: loops[0], route: route, concurrency: config.concurrency, max: cap)
            let t0 = monotonicNanos()
            try h.fill().wait()
            let (held, full, lost, holdFailures) = try loops[0].submit { (h.held.count, h.sawFull, h.lost, h.failures) }.wait()
            config.progress("churn: holding \(held) connections from \(heldIP ?? "the default address") (\(full ? "the node said Server is full" : "not full yet") after \(fmt(Double(monotonicNanos() - t0) / 1e9, 2))s)")
            var keep = false
            if !holdFailures.isEmpty {
                denialsNote = "skipped: holding connections failed (\(holdFailures.map { "\($0.key) x\($0.value)" }.joined(separator: ", ")))"
            } else if !full {
                denialsNote = "skipped: the node admitted all \(held) connections of --hold-max from \(heldIP ?? "one address") without reaching its limit"
            } else if lost > 0 {
                denialsNote = "skipped: the node closed \(lost) held connections"
            } else if try h.probe().wait() {
                keep = true
                denials = "held"
                denialsNote = "node held full for \(heldIP ?? "the default address") (\(held) connections, its per-address limit); other cycles from \(otherIP ?? "the default address")"
            } else {
                denialsNote = "skipped: with \(held) connections held the node also refused \(otherIP ?? "the default address") (a node-wide limit, not per address: every cycle would be denied)"
            }
            if keep {
                holder = h
            } else {
                denials = "skipped"
                plan.deniedFraction = 0
                try h.release().wait()
            }
            config.progress("churn: denials \(denialsNote)")
        }
        o.set("denied_fraction", plan.deniedFraction)
        o.set("denied_requested", config.churnDenied)
        o.set("denials", denials)
        o.set("denials_note", denialsNote)
        if let h = holder {
            o.set("held_connections", try loops[0].submit { h.held.count }.wait())
        } else {
            o.set("held_connections", 0)
        }

        let counters = ChurnCounters()
        let share = config.concurrency / loops.count
        let churnLoops = loops.enumerated().map { k, loop in
            ChurnLoop(loop: loop, slots: Swift.max(1, share + (k < config.concurrency % loops.count ? 1 : 0)), counters: counters,
                      plan: plan, route: route, namePrefix: "c\(config.tag)_")
        }
        let heldSample = sample(watched, target: nodeWatch, expectedFDs: nil, settle: holder == nil ? 0 : 1)
        let baselineFDs = nodeWatch.map { heldSample.fds[$0] }

        var series: [(Int, Int64)] = []
        /// Runs cycles up to `limit`; returns the wall time of the cycles (not of the settle).
        func phase(_ limit: Int, _ what: String) throws -> Double {
            counters.limit.store(limit, ordering: .relaxed)
            let t0 = monotonicNanos()
            let futures = churnLoops.map { $0.runPhase() }
            let all = EventLoopFuture.andAllSucceed(futures, on: loops[0])
            let flag = DoneFlag()
            all.whenComplete { _ in flag.set() }
            var lastReport = t0
            var lastDone = counters.completed.load(ordering: .relaxed)
            while true {
                let finished = flag.isSet
                if !finished { sleepSeconds(0.1) }
                let now = monotonicNanos()
                if now - lastReport >= 1_000_000_000 || finished {
                    let done = counters.completed.load(ordering: .relaxed)
                    if let n = nodeWatch { series.append((done, Proc.rssKB(watched[n].pid))) }
                    if !finished {
                        config.progress("churn \(what): \(done)/\(limit) cycles, \(fmt(Double(done - lastDone) * 1e9 / Double(now - lastReport), 0))/s"
                            + (nodeWatch.map { _ in " RSS \(series.last!.1) kB" } ?? ""))
                    }
                    lastReport = now
                    lastDone = done
                }
                if finished { break }
            }
            try all.wait()
            return Double(monotonicNanos() - t0) / 1e9
        }

        let warmupWall = try phase(config.churnWarmup, "warm-up")
        let warm = sample(watched, target: nodeWatch, expectedFDs: baselineFDs, settle: config.settle)
        config.progress("churn: warm-up of \(config.churnWarmup) cycles in \(fmt(warmupWall, 1))s" + (nodeWatch.map { ", settled RSS \(warm.rssKB[$0]) kB" } ?? ""))
        let mid = config.churnWarmup + (config.churnCycles - config.churnWarmup) / 2
        let cpu = CPUSampler(watched: watched)
        let firstWall = try phase(mid, "measured")
        let cpuUse = cpu.finish()
        let midSample = sample(watched, target: nodeWatch, expectedFDs: baselineFDs, settle: config.settle)
        config.progress("churn: \(mid) cycles" + (nodeWatch.map { ", settled RSS \(midSample.rssKB[$0]) kB" } ?? ""))
        let secondWall = try phase(config.churnCycles, "measured")
        let end = sample(watched, target: nodeWatch, expectedFDs: baselineFDs, settle: config.settle)
        config.progress("churn: \(config.churnCycles) cycles" + (nodeWatch.map { ", settled RSS \(end.rssKB[$0]) kB" } ?? ""))
        var released: Sample?
        if let holder {
            let (stillHeld, lost) = try loops[0].submit { (holder.held.count, holder.lost) }.wait()
            o.set("held_at_end", stillHeld)
            o.set("held_lost", lost)
            if lost > 0 { config.progress("churn: the node closed \(lost) of the held connections during the run") }
            try holder.release().wait()
            released = sample(watched, target: nodeWatch, expectedFDs: nodeWatch.map { start.fds[$0] }, settle: config.settle)
        }

        var tally = ChurnTally()
        for t in try churnLoops.map({ l in try l.loop.submit { l.tally }.wait() }) { tally.merge(t) }
        let completed = tally.done.reduce(0, +)
        let measured = config.churnCycles - config.churnWarmup
        let measuredWall = firstWall + secondWall
        o.set("completed", completed)
        o.set("ok", completed - tally.failed)
        o.set("failed", tally.failed)
        o.set("failures", .object(tally.failures.sorted { $0.value > $1.value }.map { ($0.key, .number(Double($0.value))) }))
        o.set("kinds", .object(ChurnKind.cycleKinds.map { ($0.name, .number(Double(tally.done[$0.rawValue]))) }))
        o.set("warmup_s", rounded(warmupWall))
        o.set("measured_s", rounded(measuredWall))
        o.set("cycles_per_s", rounded(Double(measured) / Swift.max(measuredWall, 1e-9), 10))
        o.set("warmup_cycles_per_s", rounded(Double(config.churnWarmup) / Swift.max(warmupWall, 1e-9), 10))
        o.set("p50_ms", rounded(tally.cycleTime.ms(50)))
        o.set("p99_ms", rounded(tally.cycleTime.ms(99)))
        o.set("max_ms", rounded(tally.cycleTime.maxMs))

        // Memory of the target node (the first --pid, or the one given for the first node).
        func growth(_ from: Sample, _ to: Sample, cycles: Int, _ k: Int) -> JSONValue {
            guard from.rssKB[k] >= 0, to.rssKB[k] >= 0, cycles > 0 else { return .null }
            return .number(rounded(Double(to.rssKB[k] - from.rssKB[k]) * 1024 / Double(cycles), 10))
        }
        var procs: [JSONValue] = []
        for (k, w) in watched.enumerated() {
            var p = JSONObject()
            p.set("name", w.name)
            p.set("pid", Int(w.pid))
            p.set("target", k == nodeWatch)
            p.set("rss_start_kb", start.rssKB[k])
            p.set("rss_held_kb", heldSample.rssKB[k])
            p.set("rss_warm_kb", warm.rssKB[k])
            p.set("rss_mid_kb", midSample.rssKB[k])
            p.set("rss_end_kb", end.rssKB[k])
            p.set("rss_released_kb", released.map { .number(Double($0.rssKB[k])) } ?? .null)
            p.set("fds_start", start.fds[k])
            p.set("fds_end", end.fds[k])
            p.set("bytes_per_cycle", growth(warm, end, cycles: measured, k))
            procs.append(p.value)
        }
        if let n = nodeWatch {
            let perCycle = growth(warm, end, cycles: measured, n)
            o.set("node", watched[n].name)
            o.set("rss_start_kb", start.rssKB[n])
            o.set("rss_held_kb", heldSample.rssKB[n])
            o.set("rss_warm_kb", warm.rssKB[n])
            o.set("rss_mid_kb", midSample.rssKB[n])
            o.set("rss_end_kb", end.rssKB[n])
            o.set("rss_released_kb", released.map { .number(Double($0.rssKB[n])) } ?? .null)
            o.set("bytes_per_cycle", perCycle)
            o.set("kb_per_100k_cycles", perCycle.double.map { .number(rounded($0 * 100_000 / 1024, 10)) } ?? .null)
            o.set("bytes_per_cycle_first_half", growth(warm, midSample, cycles: mid - config.churnWarmup, n))
            o.set("bytes_per_cycle_second_half", growth(midSample, end, cycles: config.churnCycles - mid, n))
            o.set("warmup_bytes_per_cycle", growth(heldSample, warm, cycles: config.churnWarmup, n))
            o.set("fds_start", start.fds[n])
            o.set("fds_held", heldSample.fds[n])
            o.set("fds_end", end.fds[n])
            o.set("settle_wait_s", .array([warm, midSample, end].map { .number(rounded($0.settleWait, 100)) }))
            o.set("rss_series", .array(series.map { .array([.number(Double($0.0)), .number(Double($0.1))]) }))
        } else {
            o.set("node", .null)
            o.set("bytes_per_cycle", .null)
        }
        o.set("processes_watched", .array(procs))
        cpuFields(cpuUse, into: &o)
        o.set("bench_cpu_s", rounded(Proc.selfCPUSeconds()))
        o.set("bench_maxrss_kb", Proc.selfMaxRSSKB())
        o.set("errors", tally.failed)
        if tally.failed > 0 || completed != config.churnCycles { o.set("exit_code", 2) }
        return o.value
    }

    /// Waits until the target node (watched[target]) holds no more descriptors than `expectedFDs`
    /// (its side of every cycle's connection is closed), up to 30 s, then `settle` seconds more
    /// (the node ends sessions in the cluster asynchronously); reads VmRSS of every watched process.
    private func sample(_ watched: [WatchedProcess], target: Int?, expectedFDs: Int?, settle: Double) -> Sample {
        let t0 = monotonicNanos()
        if let target, let expectedFDs, expectedFDs >= 0 {
            let deadline = t0 + 30_000_000_000
            while monotonicNanos() < deadline {
                let now = Proc.fdCount(watched[target].pid)
                if now < 0 || now <= expectedFDs { break }
                sleepSeconds(0.05)
            }
        }
        sleepSeconds(settle)
        let wait = Double(monotonicNanos() - t0) / 1e9
        return Sample(rssKB: watched.map { Proc.rssKB($0.pid) }, fds: watched.map { Proc.fdCount($0.pid) }, settleWait: wait)
    }
}
