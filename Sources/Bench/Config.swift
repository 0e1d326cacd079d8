import ArgumentParser
import NIOCore

enum Mode: String, Sendable {
    case closed, rate, logins, idle, `private`, churn
}

struct NodeAddress: Sendable, Equatable, CustomStringConvertible {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    init(parsing text: String) throws {
        let t = trimmedSpaces(text)
        guard let colon = t.lastIndex(of: ":"), let port = Int(t[t.index(after: colon)...]), (1...65535).contains(port) else {
            throw ValidationError("--nodes: \"\(t)\" is not host:port")
        }
        var host = String(t[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.init(host: host.isEmpty ? "127.0.0.1" : host, port: port)
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Everything a run needs, resolved from the command line. Immutable during the run.
struct RunConfig: Sendable {
    var mode: Mode
    var nodes: [NodeAddress]
    var layout: Layout
    var window: Int
    var rate: Double
    var duration: Double
    var drain: Double
    var settle: Double
    var payload: Int
    var concurrency: Int
    var sourceIPs: [String]
    var threads: Int
    var handshakeTimeout: Double
    var watched: [WatchedProcess]
    var processes: Int?
    var afterDisconnect: Double
    var label: String
    var json: Bool
    var out: String?
    var seed: UInt64
    var quiet: Bool
    /// Random per run, part of every user and room name, so runs never collide on names.
    var tag: String
    /// idle workers: the global index of this process's first client.
    var idOffset: Int
    /// Clients of the whole run (all idle workers together).
    var totalClients: Int
    /// tcp, ws or mixed; the WebSocket (HTTP listener) address of each node, in `nodes` order.
    var transport: Transport = .tcp
    var wsNodes: [NodeAddress] = []
    /// churn: cycles in all (warm-up included), warm-up cycles, share of denied cycles, most
    /// connections held to make the node full.
    var churnCycles = 200_000
    var churnWarmup = 20_000
    var churnDenied = 0.2
    var churnHoldMax = 2000

    var namePrefix: String { "b\(tag)_" }
    func userName(_ i: Int) -> String { namePrefix + String(i) }
    func roomName(_ r: Int) -> String { "room-\(tag)-\(r)" }

    static func randomTag() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
        var g = SystemRandomNumberGenerator()
        return String((0..<4).map { _ in alphabet[Int(g.next() % UInt64(alphabet.count))] })
    }

    func progress(_ text: String) {
        if !quiet { stderrWrite("chorus-bench: \(text)\n") }
    }
}
