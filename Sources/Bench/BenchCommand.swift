import ArgumentParser

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `chorus-bench`: drives real clients over TCP or WebSocket against one or more Chorus nodes.
@main
struct ChorusBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chorus-bench",
        abstract: "Load generator for a Chorus cluster (PROTOCOL.md over TCP or WebSocket).",
        discussion: """
            Scenario (same as the Centrifuge peer's): client i connects to node i mod N and joins room \
            (i / N) mod R, so every room has members on every node and every message crosses the cluster \
            bus. Message text: "<send time ns> <per-sender seq> xxx…" padded to --payload bytes. Nodes \
            must be started with high flood limits (e.g. --flood-rate 100000 --flood-burst 100000): the \
            default 10 msg/s, burst 20 per session, refuses this load with Error "Flooding". \
            --transport ws connects to each node's HTTP listener (--ws-nodes, chorus-node --http-port) \
            and speaks the protocol over GET /ws, one XML document per text message; mixed puts half of \
            each room's members on each node over TCP and half over WebSocket.
            """,
        subcommands: [Closed.self, Rate.self, Logins.self, Idle.self, Private.self, Churn.self, Report.self, IdleWorker.self, ScanBench.self]
    )
}

/// Options shared by every mode. Mode-specific defaults are applied by `resolve(for:)`.
struct BenchOptions: ParsableArguments {
    @Option(help: "Comma-separated node addresses host:port; client i connects to node i mod N.")
    var nodes: String = "127.0.0.1:9875"

    @Option(help: "How clients reach the nodes: tcp (the --nodes ports), ws (WebSocket, /ws on the --ws-nodes ports: one XML document per text message), or mixed (half of each room's members on each node over each; see docs/benchmarks.md). Not for churn.")
    var transport: Transport = .tcp

    @Option(help: "WebSocket addresses, in --nodes order: host:port of each node's HTTP listener (chorus-node --http-port), or just the port (the host of the node at the same position). Needed for --transport ws and mixed.")
    var wsNodes: String = ""

    @Option(name: [.customShort("c"), .long], help: "Number of clients (default: 1000; logins 10000; idle 20000).")
    var clients: Int?

    @Option(name: [.customShort("r"), .long], help: "Number of rooms (default 10; idle: clients / 100).")
    var rooms: Int?

    @Option(name: [.customShort("w"), .long], help: "closed/private: messages in flight per client.")
    var window: Int = 4

    @Option(help: "rate: messages per second, all clients together (open loop).")
    var rate: Double = 1000

    @Option(name: [.customShort("d"), .long], help: "Send phase, seconds.")
    var duration: Double = 20

    @Option(help: "Longest wait for outstanding deliveries after the send phase, seconds.")
    var drain: Double = 10

    @Option(help: "Seconds to wait after everyone joined before sending (idle: before reading memory; churn: after the node closed the connections, before reading memory; default 1, idle 15, churn 3).")
    var settle: Double?

    @Option(help: "Message text size in bytes (\"ts seq xxx…\").")
    var payload: Int = 100

    @Option(help: "Connections being set up at the same time (default 64; logins 100).")
    var concurrency: Int?

    @Option(help: "Comma-separated local addresses to bind before connecting, rotated over clients (e.g. 127.0.0.1,127.0.0.2).")
    var sourceIps: String = ""

    @Option(help: "Event-loop threads of the generator.")
    var threads: Int = 1

    @Option(help: "Seconds a client may take from connect to ready (logged in, in its room).")
    var handshakeTimeout: Double = 60

    @Option(name: .customLong("pid"), help: "PID of a node, in --nodes order (repeatable, optionally NAME=PID): CPU use is sampled; idle and churn modes read VmRSS.")
    var pids: [String] = []

    @Option(help: "PID of the redis-server (CPU and VmRSS sampled like the nodes').")
    var redisPid: Int32?

    @Option(help: "idle: generator processes to spread the connections over (default: enough for the descriptor limit).")
    var processes: Int?

    @Option(help: "idle: seconds to wait after disconnecting before reading memory again.")
    var after: Double = 5

    @Option(help: "churn: connect/close cycles in all, warm-up included.")
    var cycles: Int = 200_000

    @Option(help: "churn: cycles before the memory baseline (the node's allocator warms up).")
    var warmup: Int = 20_000

    @Option(help: "churn: share of cycles that are denied (Server is full) while the node is held full for their address; 0 for none.")
    var denied: Double = 0.2

    @Option(help: "churn: most connections opened to make the node full for one address (the denials are skipped when that is not enough).")
    var holdMax: Int = 2000

    @Option(help: "Label of this run in the report (default: mode and main parameter).")
    var label: String?

    @Flag(help: "Print one JSON object for the run instead of the table.")
    var json = false

    @Option(help: "Also write the JSON object to this file.")
    var out: String?

    @Option(help: "Give up (exit 3) after this many seconds in total.")
    var maxRuntime: Double = 900

    @Option(help: "Seed of the private mode's recipient choice.")
    var seed: UInt64 = 1

    @Flag(help: "No progress lines on stderr.")
    var quiet = false

    func resolve(for mode: Mode) throws -> RunConfig {
        let addresses = try nodes.split(separator: ",").map { try NodeAddress(parsing: String($0)) }
        guard !addresses.isEmpty else { throw ValidationError("--nodes: at least one host:port") }
        let clients = self.clients ?? (mode == .logins ? 10_000 : mode == .idle ? 20_000 : 1000)
        guard clients > 0 else { throw ValidationError("--clients must be positive") }
        let rooms = self.rooms ?? (mode == .idle ? max(1, clients / 100) : 10)
        guard rooms > 0 else { throw ValidationError("--rooms must be positive") }
        guard window > 0 else { throw ValidationError("--window must be positive") }
        guard threads > 0 && threads <= 64 else { throw ValidationError("--threads: 1 to 64") }
        guard payload >= 40 && payload <= 3000 else { throw ValidationError("--payload: 40 to 3000 bytes") }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        if mode == .rate { guard rate > 0 else { throw ValidationError("--rate must be positive") } }
        if mode == .churn {
            guard cycles > 0, warmup >= 0, warmup < cycles else { throw ValidationError("--cycles must be positive and --warmup below it") }
            guard cycles < 10_000_000 else { throw ValidationError("--cycles: below 10,000,000 (user names are at most 20 characters)") }
            guard denied >= 0 && denied < 1 else { throw ValidationError("--denied: a fraction, 0 to below 1") }
            guard holdMax >= 0 else { throw ValidationError("--hold-max must not be negative") }
        }
        var wsAddresses: [NodeAddress] = []
        if transport != .tcp {
            guard mode != .churn else { throw ValidationError("--transport \(transport.rawValue): churn runs over TCP only") }
            let entries = wsNodes.split(separator: ",").map { trimmedSpaces($0) }.filter { !$0.isEmpty }
            guard entries.count == addresses.count else {
                throw ValidationError("--transport \(transport.rawValue) needs --ws-nodes with one HTTP address per --nodes entry (\(addresses.count)), got \(entries.count)")
            }
            for (k, entry) in entries.enumerated() {
                if let port = Int(entry) {
                    guard (1...65535).contains(port) else { throw ValidationError("--ws-nodes: \(entry) is not a port") }
                    wsAddresses.append(NodeAddress(host: addresses[k].host, port: port))
                } else {
                    wsAddresses.append(try NodeAddress(parsing: entry))
                }
            }
        }
        if mode == .private, addresses.count < 2 {
            stderrWrite("chorus-bench: private mode with one node: sender and recipient share the node\n")
        }
        var watched: [WatchedProcess] = []
        for (k, spec) in pids.enumerated() {
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            let name = parts.count == 2 ? parts[0] : "node\(k + 1)"
            guard let pid = Int32(parts.last ?? "") else { throw ValidationError("--pid \(spec): expected PID or NAME=PID") }
            watched.append(WatchedProcess(name: name, pid: pid, node: k < addresses.count ? k : nil))
        }
        if let redisPid { watched.append(WatchedProcess(name: "redis", pid: redisPid, node: nil)) }
        let sources = sourceIps.split(separator: ",").map { trimmedSpaces($0) }.filter { !$0.isEmpty }
        let mainParameter: String
        switch mode {
        case .closed, .private: mainParameter = "w\(window)"
        case .rate: mainParameter = rate == rate.rounded() ? String(Int(rate)) : String(rate)
        case .logins, .idle: mainParameter = String(clients)
        case .churn: mainParameter = String(cycles)
        }
        var config = RunConfig(
            mode: mode, nodes: addresses, layout: Layout(clients: clients, nodes: addresses.count, rooms: rooms),
            window: window, rate: rate, duration: duration, drain: drain,
            settle: settle ?? (mode == .idle ? 15 : mode == .churn ? 3 : 1), payload: payload,
            concurrency: max(1, concurrency ?? (mode == .logins ? 100 : 64)), sourceIPs: sources, threads: threads,
            handshakeTimeout: handshakeTimeout, watched: watched, processes: processes, afterDisconnect: after,
            label: label ?? "\(mode.rawValue)-\(mainParameter)\(transport == .tcp ? "" : "-" + transport.rawValue)", json: json, out: out, seed: seed, quiet: quiet,
            tag: RunConfig.randomTag(), idOffset: 0, totalClients: clients)
        config.transport = transport
        config.wsNodes = wsAddresses
        config.churnCycles = cycles
        config.churnWarmup = warmup
        config.churnDenied = denied
        config.churnHoldMax = holdMax
        return config
    }
}


struct Closed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Saturation: every client keeps --window messages in flight (until it receives its own copy back).")
    @OptionGroup var options: BenchOptions
    func run() throws { try runMode(.closed, options) }
}

struct Rate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fixed offered load (--rate messages/s in total), open loop; latency from the scheduled send time.")
    @OptionGroup var options: BenchOptions
    func run() throws { try runMode(.rate, options) }
}

struct Logins: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "--clients clients connect and log in, --concurrency at a time: logins/s and login latency.")
    @OptionGroup var options: BenchOptions
    func run() throws { try runMode(.logins, options) }
}

struct Idle: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "--clients logged-in clients in rooms stay idle for --settle s; node memory (VmRSS of --pid) per connection.")
    @OptionGroup var options: BenchOptions
    func run() throws { try runMode(.idle, options) }
}

struct Private: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "private",
        abstract: "Random cross-node private messages, closed loop with --window in flight per sender.")
    @OptionGroup var options: BenchOptions
    func run() throws { try runMode(.private, options) }
}

struct Churn: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Connect/close cycles against the first node (accepted and closed, logged in, malformed frame, ping, denied): cycles/s and the node's VmRSS growth per cycle after --warmup.",
        discussion: """
            Cycles rotate through: closed at once; Login (a name unique to the cycle) and LoginResponse; a \
            malformed frame and its Error; Ping and Pong; and, --denied of them, a connection refused with \
            Server is full. For the denials the node is first held full for one address (the first \
            --source-ips, or 127.0.0.2 for a node on loopback) by up to --hold-max connections: this needs the \
            node's per-address limit (--max-connections-per-ip, default 1000); without it they are skipped and \
            the report says why. The other cycles come from the second --source-ips or the default address. \
            The node's VmRSS (the first --pid, or the one for the first node) is read at the start, after \
            the --warmup cycles, half way and at the end, each time once the node holds no more descriptors \
            than before the cycles and --settle seconds more.
            """
    )
    @OptionGroup var options: BenchOptions
    func run() throws { try runMode(.churn, options) }
}

/// Prints the table for JSON results written by earlier runs (one object per line or per file).
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the table for saved --json results.")
    @Argument(help: "JSON files, in the order to print.") var files: [String]
    func run() throws {
        var results: [JSONValue] = []
        for f in files {
            guard let text = readWholeFile(f) else {
                stderrWrite("chorus-bench report: cannot read \(f)\n")
                continue
            }
            for line in text.split(separator: "\n") where line.first == "{" {
                if let v = try? JSONValue.parse(String(line)) { results.append(v) }
            }
        }
        print(ReportPrinter.table(results), terminator: "")
    }
}

/// A child process of `idle` (one per descriptor-limit's worth of connections). Prints one JSON
/// line when its clients are ready, holds them until its stdin closes, then prints a summary.
struct IdleWorker: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "idle-worker", shouldDisplay: false)
    @OptionGroup var options: BenchOptions
    @Option var idOffset: Int
    @Option var total: Int
    @Option var tag: String
    func run() throws {
        var config = try options.resolve(for: .idle)
        config.idOffset = idOffset
        config.totalClients = total
        config.layout = Layout(clients: total, nodes: config.nodes.count, rooms: config.layout.rooms)
        config.tag = tag
        try IdleRun.worker(config: config, count: options.clients ?? 0)
    }
}

func runMode(_ mode: Mode, _ options: BenchOptions) throws {
    let config = try options.resolve(for: mode)
    raiseDescriptorLimit()
    startWatchdog(seconds: options.maxRuntime)
    let result: JSONValue
    switch mode {
    case .closed, .rate, .private:
        result = try FanoutRun(config: config).run()
    case .logins:
        result = try LoginRun(config: config).run()
    case .idle:
        result = try IdleRun(config: config).run()
    case .churn:
        result = try ChurnRun(config: config).run()
    }
    emit(result, config: config)
    if case .object(let fields) = result, case .number(let code)? = fields.first(where: { $0.0 == "exit_code" })?.1, code != 0 {
        throw ExitCode(Int32(code))
    }
}

func emit(_ result: JSONValue, config: RunConfig) {
    let line = result.serialized()
    if let out = config.out {
        _ = writeWholeFile(out, line + "\n")
    }
    if config.json {
        print(line)
    } else {
        print(ReportPrinter.table([result]), terminator: "")
    }
}
