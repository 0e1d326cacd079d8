import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Fields every result starts with.
func commonFields(_ config: RunConfig, into o: inout JSONObject) {
    o.set("label", config.label)
    o.set("mode", config.mode.rawValue)
    o.set("nodes", .array(config.nodes.map { .string($0.description) }))
    o.set("transport", config.transport.rawValue)
    if config.transport != .tcp {
        o.set("ws_nodes", .array(config.wsNodes.map { .string($0.description) }))
        let ws = (0..<config.totalClients).reduce(0) { $0 + (config.transport.usesWebSocket($1, layout: config.layout) ? 1 : 0) }
        o.set("ws_clients", ws)
    }
    o.set("clients", config.layout.clients)
    o.set("rooms", config.layout.rooms)
    o.set("threads", config.threads)
    o.set("tag", config.tag)
}

func cpuFields(_ cpu: (perProcess: [(String, Double)], machineBusy: Double, machineSteal: Double), into o: inout JSONObject) {
    o.set("cpu_pct", .object(cpu.perProcess.map { ($0.0, .number(($0.1 * 10).rounded() / 10)) }))
    // From /proc/stat; on the 2-core VM this was developed on, its tick counters disagree with the
    // per-process ones under network load, so it is kept in the JSON only.
    o.set("box_busy_pct", (cpu.machineBusy * 10).rounded() / 10)
    o.set("box_steal_pct", (cpu.machineSteal * 10).rounded() / 10)
    o.set("cpus", Proc.cpuCount)
}

func rounded(_ v: Double, _ digits: Double = 1000) -> Double { (v * digits).rounded() / digits }

// MARK: - closed, rate, private

struct FanoutRun {
    let config: RunConfig

    func run() throws -> JSONValue {
        let h = try Harness(config: config)
        defer { h.shutdown() }
        let mode = config.mode
        let layout = config.layout
        var o = JSONObject()
        commonFields(config, into: &o)
        o.set("members_per_room", rounded(Double(layout.clients) / Double(layout.rooms), 10))
        o.set("window", config.window)
        o.set("rate", config.rate)
        o.set("payload_bytes", config.payload)
        o.set("duration_s", config.duration)

        let t0 = monotonicNanos()
        let outcome = try h.connectScenario(ids: 0..<layout.clients)
        let setup = Double(monotonicNanos() - t0) / 1e9
        config.progress("\(outcome.ready)/\(layout.clients) clients logged in and in their rooms in \(fmt(setup, 2))s (\(outcome.failed) failed)")
        o.set("setup_s", rounded(setup))
        if outcome.failed > 0 {
            h.closeAll()
            let merged = try MergedStats(harness: h)
            o.set("failed_logins", outcome.failed)
            o.set("failures", outcome.json)
            o.set("error_frames", merged.errorFrames)
            o.set("errors", Int64(outcome.failed) + merged.errorFrames)
            o.set("error", "not every client got ready; no messages were sent")
            o.set("exit_code", 2)
            return o.value
        }

        if mode == .private {
            var registry = [Client?](repeating: nil, count: layout.clients)
            for ls in h.loops {
                for c in try ls.loop.submit({ ls.clients.map { ClientRef(client: $0) } }).wait() { registry[c.client.id] = c.client }
            }
            h.shared.registry = registry
        }

        sleepSeconds(config.settle)
        let start = monotonicNanos() + 200_000_000
        let end = start + UInt64(config.duration * 1e9)
        _ = try h.onEveryLoop { ls in
            if mode == .rate { ls.startRate(start: start, end: end) } else { ls.startClosed(start: start, end: end) }
        }
        config.progress("\(mode.rawValue): sending for \(config.duration)s (\(describeLoad()))")
        sleepUntil(start)
        let sampler = CPUSampler(watched: config.watched)
        var perSecDelivered: [Int64] = []
        var perSecSent: [Int64] = []
        var prev = (sent: Int64(0), delivered: Int64(0))
        var tick = start
        while tick < end {
            tick = min(tick + 1_000_000_000, end)
            sleepUntil(tick)
            let now = try totals(h)
            perSecSent.append(now.sent - prev.sent)
            perSecDelivered.append(now.delivered - prev.delivered)
            config.progress("t=\(fmt(Double(tick - start) / 1e9, 1))s sent=\(now.sent) (+\(now.sent - prev.sent)) delivered=\(now.delivered) (+\(now.delivered - prev.delivered))")
            prev = now
        }
        let cpu = sampler.finish()
        // Stop every sender (on its loop, so no message can follow) and read what each sent.
        let sentLists = try h.onEveryLoop { $0.stopSending() }
        var sentPerClient = [Int](repeating: 0, count: layout.clients)
        for list in sentLists { for (id, n) in list { sentPerClient[id] = n } }
        let expected = expectedDeliveries(sentPerClient: sentPerClient, layout: layout, isPrivate: mode == .private)

        // Drain: wait for what is still on its way, up to --drain seconds.
        let drainStart = monotonicNanos()
        var last = try totals(h).delivered
        var lastReport = drainStart
        while last < expected && Double(monotonicNanos() - drainStart) / 1e9 < config.drain {
            sleepSeconds(0.02)
            last = try totals(h).delivered
            if monotonicNanos() - lastReport >= 1_000_000_000 {
                lastReport = monotonicNanos()
                config.progress("draining: delivered \(last) of \(expected) expected")
            }
        }
        let drain = Double(monotonicNanos() - drainStart) / 1e9
        config.progress("drained for \(fmt(drain, 2))s: delivered \(last) of \(expected) expected")
        h.closeAll()
        let m = try MergedStats(harness: h)
        let disagreements = mode == .private ? 0 : RoomOrderTable.merge(h.loops.map(\.order))
        // Where the missing deliveries were due: messages after the last one each receiver got from
        // each sender, summed per receiver node (a stuck node shows up here).
        var tailsPerNode = [Int64](repeating: 0, count: layout.nodes)
        if mode != .private && m.delivered < expected {
            let sentCopy = sentPerClient
            let parts = try h.onEveryLoop { ls -> [Int64] in
                var perNode = [Int64](repeating: 0, count: layout.nodes)
                for c in ls.clients {
                    for k in 0..<ls.shared.membersPerRoom[c.room] {
                        let s = layout.client(room: c.room, member: k)
                        let missing = (sentCopy[s] - 1) - Int(c.lastSeenSequence(member: k))
                        if missing > 0 { perNode[layout.node(of: c.id)] += Int64(missing) }
                    }
                }
                return perNode
            }
            for p in parts { for (n, v) in p.enumerated() { tailsPerNode[n] += v } }
        }

        let sent = sentPerClient.reduce(0, +)
        let loss = expected - m.delivered
        o.set("drain_s", rounded(drain))
        o.set("sent", sent)
        o.set("sent_per_s", rounded(Double(sent) / config.duration, 10))
        o.set("expected", expected)
        o.set("delivered", m.delivered)
        o.set("delivered_in_window", m.deliveredInWindow)
        o.set("deliveries_per_s", rounded(Double(m.deliveredInWindow) / config.duration, 10))
        o.set("loss", loss)
        o.set("loss_pct", rounded(100 * Double(loss) / Double(max(expected, 1)), 10000))
        if mode != .private {
            o.set("missing_tail_by_receiver_node", .array(tailsPerNode.map { .number(Double($0)) }))
        }
        o.set("seq_gaps", m.gaps)
        o.set("order_violations", m.reorders)
        o.set("order", m.gaps + m.reorders)
        o.set("disagreements", mode == .private ? .null : .number(Double(disagreements)))
        o.set("foreign", m.foreign)
        o.set("other_frames", m.otherFrames)
        o.set("disconnects", m.disconnects)
        o.set("error_frames", m.errorFrames)
        o.set("error_reasons", .object(m.errorReasons.sorted { $0.value > $1.value }.map { ($0.key, .number(Double($0.value))) }))
        o.set("failed_logins", 0)
        o.set("errors", m.errorFrames + m.disconnects)
        o.set("p50_ms", rounded(m.latency.ms(50)))
        o.set("p90_ms", rounded(m.latency.ms(90)))
        o.set("p99_ms", rounded(m.latency.ms(99)))
        o.set("p999_ms", rounded(m.latency.ms(99.9)))
        o.set("max_ms", rounded(m.latency.maxMs))
        if mode == .rate {
            o.set("send_lag_p99_ms", rounded(m.sendLag.ms(99)))
            o.set("send_lag_max_ms", rounded(m.sendLag.maxMs))
        }
        o.set("per_sec_deliveries", .array(perSecDelivered.map { .number(Double($0)) }))
        o.set("per_sec_sent", .array(perSecSent.map { .number(Double($0)) }))
        cpuFields(cpu, into: &o)
        o.set("bench_cpu_s", rounded(Proc.selfCPUSeconds()))
        o.set("bench_maxrss_kb", Proc.selfMaxRSSKB())
        return o.value
    }

    private func describeLoad() -> String {
        let l = config.layout
        switch config.mode {
        case .rate: return "\(config.rate) msg/s over \(l.clients) clients in \(l.rooms) rooms"
        case .private: return "\(l.clients) clients, \(config.window) private messages in flight each, recipients on other nodes"
        default: return "\(l.clients) clients in \(l.rooms) rooms, \(config.window) in flight each"
        }
    }

    private func totals(_ h: Harness) throws -> (sent: Int64, delivered: Int64) {
        let parts = try h.onEveryLoop { ls in (ls.hot.pointee.sent, ls.hot.pointee.delivered) }
        return parts.reduce((Int64(0), Int64(0))) { ($0.0 + $1.0, $0.1 + $1.1) }
    }
}

struct ClientRef: @unchecked Sendable { let client: Client }

func sleepUntil(_ deadline: UInt64) {
    let now = monotonicNanos()
    if deadline > now { sleepSeconds(Double(deadline - now) / 1e9) }
}

// MARK: - logins

struct LoginRun {
    let config: RunConfig

    func run() throws -> JSONValue {
        let h = try Harness(config: config)
        defer { h.shutdown() }
        var o = JSONObject()
        commonFields(config, into: &o)
        o.set("concurrency", config.concurrency)
        let sampler = CPUSampler(watched: config.watched)
        let t0 = monotonicNanos()
        let outcome = try h.connect(Array(0..<config.layout.clients), joinsRoom: false, creators: [])
        let wall = Double(monotonicNanos() - t0) / 1e9
        let cpu = sampler.finish()
        config.progress("\(outcome.ready) logins in \(fmt(wall, 2))s (\(outcome.failed) failed)")
        h.closeAll()
        let m = try MergedStats(harness: h)
        o.set("logins", outcome.ready)
        o.set("failed_logins", outcome.failed)
        o.set("failures", outcome.json)
        o.set("wall_s", rounded(wall))
        o.set("logins_per_s", rounded(Double(outcome.ready) / wall, 10))
        o.set("p50_ms", rounded(m.loginLatency.ms(50)))
        o.set("p90_ms", rounded(m.loginLatency.ms(90)))
        o.set("p99_ms", rounded(m.loginLatency.ms(99)))
        o.set("max_ms", rounded(m.loginLatency.maxMs))
        o.set("disconnects", m.disconnects)
        o.set("error_frames", m.errorFrames)
        o.set("other_frames", m.otherFrames)
        o.set("errors", Int64(outcome.failed) + m.errorFrames + m.disconnects)
        cpuFields(cpu, into: &o)
        if outcome.failed > 0 { o.set("exit_code", 2) }
        return o.value
    }
}

// MARK: - idle

struct IdleRun {
    let config: RunConfig

    func run() throws -> JSONValue {
        let limit = raiseDescriptorLimit()
        let total = config.layout.clients
        let perProcess = max(1000, limit - 256)
        let processes = max(1, config.processes ?? (total + perProcess - 1) / perProcess)
        var o = JSONObject()
        commonFields(config, into: &o)
        o.set("processes", processes)
        o.set("source_ips", .array(config.sourceIPs.map { .string($0) }))
        o.set("settle_s", config.settle)
        let before = config.watched.map { Proc.rssKB($0.pid) }
        let t0 = monotonicNanos()
        var perNode = [Int](repeating: 0, count: config.nodes.count)
        var outcome = ConnectOutcome()
        var disconnects: Int64 = 0
        var errorFrames: Int64 = 0
        var otherFrames: Int64 = 0
        var loaded: [Int64] = []
        var setup = 0.0

        if processes == 1 {
            let h = try Harness(config: config)
            defer { h.shutdown() }
            outcome = try h.connectScenario(ids: 0..<total)
            setup = Double(monotonicNanos() - t0) / 1e9
            perNode = try h.readyPerNode()
            config.progress("idle: \(outcome.ready)/\(total) clients ready in \(fmt(setup, 2))s; settling \(config.settle)s")
            sleepSeconds(config.settle)
            loaded = config.watched.map { Proc.rssKB($0.pid) }
            h.closeAll()
            let m = try MergedStats(harness: h)
            disconnects = m.disconnects
            errorFrames = m.errorFrames
            otherFrames = m.otherFrames
        } else {
            // One child per share: the descriptor limit holds per process.
            var workers: [ChildProcess] = []
            defer {
                for w in workers {
                    w.closeStdin()
                    w.wait()
                }
            }
            let exe = ownExecutablePath()
            let share = (total + processes - 1) / processes
            for k in 0..<processes {
                let offset = k * share
                let count = min(share, total - offset)
                if count <= 0 { break }
                var args = ["idle-worker", "--id-offset", String(offset), "--total", String(total), "--tag", config.tag,
                            "--clients", String(count), "--rooms", String(config.layout.rooms),
                            "--nodes", config.nodes.map(\.description).joined(separator: ","),
                            "--concurrency", String(config.concurrency), "--threads", String(config.threads),
                            "--handshake-timeout", String(config.handshakeTimeout), "--max-runtime", "0"]
                if !config.sourceIPs.isEmpty { args += ["--source-ips", config.sourceIPs.joined(separator: ",")] }
                if config.transport != .tcp {
                    args += ["--transport", config.transport.rawValue, "--ws-nodes", config.wsNodes.map(\.description).joined(separator: ",")]
                }
                if config.quiet { args.append("--quiet") }
                let w = try ChildProcess(executable: exe, arguments: args)
                workers.append(w)
                // Sequentially: the first worker creates the rooms; the others only join.
                guard let line = w.readLine(), let ready = try? JSONValue.parse(line) else {
                    throw BenchError("idle worker \(k) exited before its clients were ready")
                }
                outcome.attempted += Int(ready["attempted"]?.int ?? 0)
                outcome.ready += Int(ready["ready"]?.int ?? 0)
                outcome.failed += Int(ready["failed"]?.int ?? 0)
                if case .object(let f)? = ready["failures"] { for (k, v) in f { outcome.failures[k, default: 0] += Int(v.int ?? 0) } }
                if case .array(let counts)? = ready["per_node"] {
                    for (n, c) in counts.enumerated() where n < perNode.count { perNode[n] += Int(c.int ?? 0) }
                }
                config.progress("idle: worker \(k + 1)/\(processes) ready (\(ready["ready"]?.int ?? 0) clients)")
            }
            setup = Double(monotonicNanos() - t0) / 1e9
            config.progress("idle: \(outcome.ready)/\(total) clients ready in \(fmt(setup, 2))s; settling \(config.settle)s")
            sleepSeconds(config.settle)
            loaded = config.watched.map { Proc.rssKB($0.pid) }
            for w in workers { w.closeStdin() }
            for w in workers {
                if let line = w.readLine(), let summary = try? JSONValue.parse(line) {
                    disconnects += summary["disconnects"]?.int ?? 0
                    errorFrames += summary["error_frames"]?.int ?? 0
                    otherFrames += summary["other_frames"]?.int ?? 0
                }
            }
            for w in workers { w.wait() }
            workers = []
        }
        sleepSeconds(config.afterDisconnect)
        let afterDisconnect = config.watched.map { Proc.rssKB($0.pid) }

        o.set("setup_s", rounded(setup))
        o.set("connected", outcome.ready)
        o.set("failed_logins", outcome.failed)
        o.set("failures", outcome.json)
        o.set("per_node", .array(perNode.map { .number(Double($0)) }))
        var procs: [JSONValue] = []
        for (k, w) in config.watched.enumerated() {
            var p = JSONObject()
            p.set("name", w.name)
            p.set("pid", Int(w.pid))
            p.set("rss_before_kb", before[k])
            p.set("rss_loaded_kb", loaded[k])
            p.set("rss_after_disconnect_kb", afterDisconnect[k])
            if let n = w.node, n < perNode.count {
                p.set("connections", perNode[n])
                p.set("kb_per_conn", before[k] >= 0 && loaded[k] >= 0 && perNode[n] > 0
                      ? .number(rounded(Double(loaded[k] - before[k]) / Double(perNode[n]), 100)) : .null)
            }
            procs.append(p.value)
        }
        o.set("processes_watched", .array(procs))
        o.set("disconnects", disconnects)
        o.set("error_frames", errorFrames)
        o.set("other_frames", otherFrames)
        o.set("errors", Int64(outcome.failed) + errorFrames + disconnects)
        if outcome.failed > 0 { o.set("exit_code", 2) }
        return o.value
    }

    /// An idle-worker process: connect its share, report, hold until stdin closes, report again.
    static func worker(config: RunConfig, count: Int) throws {
        raiseDescriptorLimit()
        let h = try Harness(config: config)
        let outcome = try h.connectScenario(ids: config.idOffset..<(config.idOffset + count))
        var o = JSONObject()
        o.set("attempted", outcome.attempted)
        o.set("ready", outcome.ready)
        o.set("failed", outcome.failed)
        o.set("failures", outcome.json)
        o.set("per_node", .array(try h.readyPerNode().map { .number(Double($0)) }))
        stdoutWrite(o.value.serialized() + "\n")
        waitForStdinEOF()
        h.closeAll()
        let m = try MergedStats(harness: h)
        var s = JSONObject()
        s.set("disconnects", m.disconnects)
        s.set("error_frames", m.errorFrames)
        s.set("other_frames", m.otherFrames)
        stdoutWrite(s.value.serialized() + "\n")
        h.shutdown()
    }
}

