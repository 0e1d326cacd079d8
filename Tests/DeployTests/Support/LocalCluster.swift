import ChorusTesting
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// scripts/cluster.sh running with the debug chorus-node on free ports, and what its
/// cluster.env says about it.
final class LocalCluster: Sendable {
    let script: ChildProcess
    let runDirectory: URL
    let env: [String: String]

    private init(script: ChildProcess, runDirectory: URL, env: [String: String]) {
        self.script = script
        self.runDirectory = runDirectory
        self.env = env
    }

    var clientPort: Int { Int(env["CLIENT_PORT"]!)! }
    var webPort: Int { Int(env["WEB_PORT"]!)! }
    var nodeCount: Int { Int(env["NODE_COUNT"]!)! }
    var statsSocket: String { env["HAPROXY_STATS_SOCKET"]! }
    func nodePID(_ k: Int) -> Int32 { Int32(env["NODE\(k)_PID"]!)! }
    func nodePort(_ k: Int) -> Int { Int(env["NODE\(k)_PORT"]!)! }
    func adminPort(_ k: Int) -> Int { Int(env["NODE\(k)_ADMIN_PORT"]!)! }

    /// Every process the script started: Redis, the nodes, HAProxy.
    var childPIDs: [String: Int32] {
        var pids: [String: Int32] = [:]
        for (key, value) in env where key.hasSuffix("_PID") && key != "SCRIPT_PID" {
            pids[String(key.dropLast(4)).lowercased()] = Int32(value)
        }
        return pids
    }

    static func start(nodes: Int, extraArguments: [String] = []) async throws -> LocalCluster {
        let runDirectory = try makeTemporaryDirectory("deploytests-cluster")
        // The nodes bind port 0 and cluster.env says what they got; only Redis and HAProxy
        // need ports chosen up front.
        let ports = try freePorts(3)
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("CHORUS_") { environment[key] = nil }
        environment["CHORUS_NODE_BINARY"] = try Binaries.chorusNode().path
        let arguments = [
            "-n", String(nodes), "-p", String(ports[0]), "--redis-port", String(ports[1]), "--web-port", String(ports[2]),
            "--run-dir", runDirectory.path,
        ] + extraArguments
        let script = try ChildProcess(
            executable: repositoryRoot.appendingPathComponent("scripts/cluster.sh").path,
            arguments: arguments, environment: environment,
            log: runDirectory.appendingPathComponent("cluster.sh.out"))
        let envFile = runDirectory.appendingPathComponent("cluster.env")
        do {
            let values = try await eventually(timeout: .seconds(90), every: .milliseconds(100)) { () -> [String: String]? in
                guard script.isRunning else { throw TestFailure("cluster.sh exited early: \(script.log)") }
                guard let text = try? String(contentsOf: envFile, encoding: .utf8) else { return nil }
                var values: [String: String] = [:]
                for line in text.split(separator: "\n") {
                    let parts = line.split(separator: "=", maxSplits: 1)
                    if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
                }
                return values
            }
            return LocalCluster(script: script, runDirectory: runDirectory, env: values)
        } catch {
            await script.stop(grace: .seconds(20))
            throw error
        }
    }

    /// Stops the script with SIGTERM and waits for it. Returns its exit status (nil: it
    /// did not exit within 30 s) and the processes it left running. As a last resort it
    /// then kills those, so that a failing test leaks nothing.
    func stop() async -> (status: Int32?, leftovers: [String]) {
        var status: Int32?
        if script.isRunning {
            sendSignal(SIGTERM, to: script.pid)
            status = await script.waitForExit(timeout: .seconds(30))
        } else {
            status = script.terminationStatus
        }
        let leftovers = await processesLeft()
        if status == nil { sendSignal(SIGKILL, to: script.pid) }
        for pid in childPIDs.values where !processGoneOrZombie(pid) { sendSignal(SIGKILL, to: pid) }
        return (status, leftovers)
    }

    /// Started processes still running (zombies are dead; a second of grace to exit).
    func processesLeft() async -> [String] {
        var left: [String] = []
        for _ in 0..<10 {
            left = childPIDs.filter { !processGoneOrZombie($0.value) }.map { "\($0.key) (pid \($0.value))" }.sorted()
            if left.isEmpty { break }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return left
    }

    /// Output of one HAProxy runtime API command (the stats socket in the run directory).
    func haproxy(_ command: String) async throws -> String {
        let inbox = RawInbox()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RawCollector(inbox: inbox))
                }
            }
            .connect(unixDomainSocketPath: statsSocket).get()
        try await channel.writeAndFlush(channel.allocator.buffer(string: command + "\n")).get()
        // HAProxy answers and closes the connection (non-interactive mode).
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while !inbox.isClosed, clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        channel.close(promise: nil)
        return inbox.text
    }

    /// Which server HAProxy connected each client (by source port) to, from `show sess`.
    func serverForClientPorts() async throws -> [Int: String] {
        var result: [Int: String] = [:]
        for line in try await haproxy("show sess").split(separator: "\n") {
            guard let src = field(line, "src="), let srv = field(line, "srv="),
                  let portText = src.split(separator: ":").last, let port = Int(portText) else { continue }
            result[port] = String(srv)
        }
        return result
    }

    /// Per server of the backend: status (UP/DOWN...) and last check status (L7OK...).
    func serverStates() async throws -> [String: (status: String, check: String)] {
        let csv = try await haproxy("show stat")
        let lines = csv.split(separator: "\n")
        guard let header = lines.first?.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false) else { return [:] }
        let names = header.map(String.init)
        guard let sv = names.firstIndex(of: "svname"), let px = names.firstIndex(of: "pxname"),
              let st = names.firstIndex(of: "status"), let ck = names.firstIndex(of: "check_status") else { return [:] }
        var result: [String: (String, String)] = [:]
        for line in lines.dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count > max(sv, st, ck), fields[px] == "chorus_nodes",
                  fields[sv] != "BACKEND", fields[sv] != "FRONTEND" else { continue }
            result[fields[sv]] = (fields[st], fields[ck])
        }
        return result
    }

    /// Per server: the port HAProxy sends its traffic to, from `show servers state`.
    func serverPorts() async throws -> [String: Int] {
        let text = try await haproxy("show servers state chorus_nodes")
        var result: [String: Int] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: " ")
            // be_id be_name srv_id srv_name srv_addr ... srv_fqdn srv_port
            guard fields.count > 18, let port = Int(fields[18]) else { continue }
            result[String(fields[3])] = port
        }
        return result
    }

    private func field(_ line: Substring, _ key: String) -> Substring? {
        guard let range = line.range(of: " " + key) else { return nil }
        return line[range.upperBound...].split(separator: " ").first
    }
}

/// What HAProxy's runtime API answered (plain text), and whether it closed the connection.
private final class RawInbox: Sendable {
    private let state = Mutex((bytes: [UInt8](), closed: false))
    func appendRaw(_ bytes: [UInt8]) { state.withLock { $0.bytes += bytes } }
    func markClosed() { state.withLock { $0.closed = true } }
    var isClosed: Bool { state.withLock { $0.closed } }
    var text: String { state.withLock { String(decoding: $0.bytes, as: UTF8.self) } }
}

/// Collects raw bytes (HAProxy's runtime API answers in plain text).
private final class RawCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let inbox: RawInbox
    init(inbox: RawInbox) { self.inbox = inbox }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        inbox.appendRaw(buffer.readBytes(length: buffer.readableBytes) ?? [])
    }
    func channelInactive(context: ChannelHandlerContext) {
        inbox.markClosed()
        context.fireChannelInactive()
    }
}
