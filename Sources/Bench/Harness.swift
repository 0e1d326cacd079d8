import Histogram
import NIOCore
import NIOPosix

/// The event loops, their states and connection set-up, shared by every mode.
final class Harness {
    let config: RunConfig
    let shared: Shared
    let group: MultiThreadedEventLoopGroup
    let loops: [LoopState]
    let addresses: [SocketAddress]
    /// The nodes' HTTP listeners (WebSocket clients), in `addresses` order; empty over TCP only.
    let wsAddresses: [SocketAddress]
    let sources: [SocketAddress]

    init(config: RunConfig) throws {
        self.config = config
        shared = Shared(config: config)
        group = MultiThreadedEventLoopGroup(numberOfThreads: config.threads)
        var states: [LoopState] = []
        for (k, loop) in group.makeIterator().enumerated() {
            states.append(LoopState(loop: loop, shared: shared, index: k))
        }
        loops = states
        let resolve = { (n: NodeAddress) throws -> SocketAddress in
            if let a = try? SocketAddress(ipAddress: n.host, port: n.port) { return a }
            return try SocketAddress.makeAddressResolvingHost(n.host, port: n.port)
        }
        addresses = try config.nodes.map(resolve)
        wsAddresses = try config.wsNodes.map(resolve)
        sources = try config.sourceIPs.map { try SocketAddress(ipAddress: $0, port: 0) }
    }

    func shutdown() {
        try? group.syncShutdownGracefully()
    }

    func loop(for id: Int) -> LoopState { loops[id % loops.count] }

    /// Connects, logs in (and, with `joinsRoom`, joins the room of) each client in `ids`, at most
    /// `config.concurrency` at a time. Blocks until every one is ready or failed.
    func connect(_ ids: [Int], joinsRoom: Bool, creators: Set<Int>) throws -> ConnectOutcome {
        guard !ids.isEmpty else { return ConnectOutcome() }
        let connector = Connector(harness: self, ids: ids, joinsRoom: joinsRoom, creators: creators)
        connector.start()
        try connector.promise.futureResult.wait()
        return try loops[0].loop.submit { connector.outcome }.wait()
    }

    /// The standard order: the first member of every room creates it; then everyone else joins.
    func connectScenario(ids: Range<Int>) throws -> ConnectOutcome {
        let creators = config.layout.creators.filter { ids.contains($0) }
        var outcome = try connect(creators, joinsRoom: true, creators: Set(creators))
        let creatorSet = Set(creators)
        outcome.merge(try connect(ids.filter { !creatorSet.contains($0) }, joinsRoom: true, creators: []))
        return outcome
    }

    /// Runs `body` on every loop and collects the results.
    func onEveryLoop<T: Sendable>(_ body: @escaping @Sendable (LoopState) -> T) throws -> [T] {
        let futures = loops.map { ls in ls.loop.submit { body(ls) } }
        return try futures.map { try $0.wait() }
    }

    func closeAll() {
        let futures = loops.map { ls in ls.loop.flatSubmit { ls.closeAll() } }
        for f in futures { try? f.wait() }
    }

    func readyCount() throws -> Int {
        try onEveryLoop { $0.clients.count }.reduce(0, +)
    }

    func readyPerNode() throws -> [Int] {
        let layout = config.layout
        let lists = try onEveryLoop { ls in ls.clients.map { layout.node(of: $0.id) } }
        var counts = [Int](repeating: 0, count: layout.nodes)
        for l in lists { for n in l { counts[n] += 1 } }
        return counts
    }
}

struct ConnectOutcome: Sendable {
    var attempted = 0
    var ready = 0
    var failed = 0
    var failures: [String: Int] = [:]

    mutating func merge(_ o: ConnectOutcome) {
        attempted += o.attempted
        ready += o.ready
        failed += o.failed
        for (k, v) in o.failures { failures[k, default: 0] += v }
    }

    var json: JSONValue {
        .object(failures.sorted { $0.value > $1.value }.map { ($0.key, .number(Double($0.value))) })
    }
}

/// Keeps `concurrency` handshakes going until every client is ready or failed. Lives on loop 0.
final class Connector: @unchecked Sendable {
    private let harness: Harness
    private let ids: [Int]
    private let joinsRoom: Bool
    private let creators: Set<Int>
    private let loop: EventLoop
    let promise: EventLoopPromise<Void>
    private var next = 0
    private var active = 0
    private var done = 0
    private var lastReport: UInt64 = 0
    private(set) var outcome = ConnectOutcome()

    init(harness: Harness, ids: [Int], joinsRoom: Bool, creators: Set<Int>) {
        self.harness = harness
        self.ids = ids
        self.joinsRoom = joinsRoom
        self.creators = creators
        loop = harness.loops[0].loop
        promise = loop.makePromise()
    }

    func start() {
        loop.execute {
            self.lastReport = monotonicNanos()
            self.fill()
        }
    }

    private func fill() {
        while active < harness.config.concurrency && next < ids.count {
            let id = ids[next]
            next += 1
            active += 1
            launch(id)
        }
        if done == ids.count { promise.succeed(()) }
    }

    private func finished(_ client: Client, _ error: String?) {
        active -= 1
        done += 1
        outcome.attempted += 1
        if let error {
            outcome.failed += 1
            let key = String(error.prefix(120))
            if outcome.failures[key] == nil && outcome.failures.count < 5 {
                stderrWrite("chorus-bench: client \(client.id) failed: \(error)\n")
            }
            outcome.failures[key, default: 0] += 1
        } else {
            outcome.ready += 1
        }
        let now = monotonicNanos()
        if now - lastReport > 2_000_000_000 {
            lastReport = now
            harness.config.progress("connecting: \(done)/\(ids.count) done, \(outcome.failed) failed")
        }
        fill()
    }

    private func launch(_ id: Int) {
        let ls = harness.loop(for: id)
        let client = Client(id: id, loopState: ls, joinsRoom: joinsRoom, creates: creators.contains(id))
        let coordinator = loop
        client.completion = { c, error in
            coordinator.execute { self.finished(c, error) }
        }
        let node = harness.config.layout.node(of: id)
        let address = client.ws ? harness.wsAddresses[node] : harness.addresses[node]
        let source: SocketAddress? = harness.sources.isEmpty ? nil : harness.sources[id % harness.sources.count]
        let timeout = harness.config.handshakeTimeout
        ls.loop.execute {
            var bootstrap = ClientBootstrap(group: ls.loop)
                .connectTimeout(.seconds(15))
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(client)
                    }
                }
            if let source { bootstrap = bootstrap.bind(to: source) }
            client.connectStart = monotonicNanos()
            ls.loop.scheduleTask(in: .nanoseconds(Int64(timeout * 1e9))) { client.handshakeTimedOut() }
            bootstrap.connect(to: address).whenComplete { result in
                switch result {
                case .success(let channel): client.connected(channel)
                case .failure(let error): client.fail("connect to \(address): \(error)")
                }
            }
        }
    }
}

/// Merged statistics of all loops after a run.
struct MergedStats {
    var latency = LoopState.makeHistogram()
    var sendLag = LoopState.makeHistogram()
    var loginLatency = LoopState.makeHistogram()
    var delivered: Int64 = 0
    var deliveredInWindow: Int64 = 0
    var foreign: Int64 = 0
    var otherFrames: Int64 = 0
    var sent: Int64 = 0
    var gaps: Int64 = 0
    var reorders: Int64 = 0
    var errorFrames: Int64 = 0
    var errorReasons: [String: Int64] = [:]
    var disconnects: Int64 = 0
    var oversized: Int64 = 0

    init() {}

    /// Call only when the loops are quiet (after the connections are closed).
    init(harness: Harness) throws {
        let parts = try harness.onEveryLoop { ls -> LoopSnapshot in
            LoopSnapshot(hot: ls.hot.pointee, errorFrames: ls.errorFrames, errorReasons: ls.errorReasons, disconnects: ls.disconnects)
        }
        for p in parts {
            latency.add(p.hot.latency)
            sendLag.add(p.hot.sendLag)
            loginLatency.add(p.hot.loginLatency)
            delivered += p.hot.delivered
            deliveredInWindow += p.hot.deliveredInWindow
            foreign += p.hot.foreign
            otherFrames += p.hot.otherFrames
            sent += p.hot.sent
            gaps += p.hot.sequence.gaps
            reorders += p.hot.sequence.reorders
            errorFrames += p.errorFrames
            for (k, v) in p.errorReasons { errorReasons[k, default: 0] += v }
            disconnects += p.disconnects
        }
    }
}

struct LoopSnapshot: @unchecked Sendable {
    var hot: HotCounters
    var errorFrames: Int64
    var errorReasons: [String: Int64]
    var disconnects: Int64
}

extension Histogram where Count == UInt64 {
    /// Milliseconds at a percentile (the histogram holds microseconds).
    func ms(_ percentile: Double) -> Double {
        totalCount == 0 ? 0 : Double(valueAtPercentile(percentile)) / 1000
    }

    var maxMs: Double { totalCount == 0 ? 0 : Double(max) / 1000 }
}
