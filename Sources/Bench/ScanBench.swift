import ArgumentParser
import NIOCore
import NIOPosix

/// `chorus-bench scan-bench`: the receive path alone (frame split, scan, latency histogram,
/// sequence and room-order checks) on synthetic deliveries, to see how many deliveries per second
/// one generator thread can take apart. No network. `--transport ws`: the same deliveries as a
/// node's WebSocket text frames.
struct ScanBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scan-bench", abstract: "Measure the delivery parser alone (no network).", shouldDisplay: false)
    @Option var deliveries: Int = 5_000_000
    @Option var readSize: Int = 65536
    @Option var transport: Transport = .tcp

    func run() throws {
        guard transport != .mixed else { throw ValidationError("scan-bench: --transport tcp or ws") }
        var options = try BenchOptions.parse(["--clients", "1000", "--rooms", "10", "--nodes", "127.0.0.1:1,127.0.0.1:2",
                                              "--transport", transport.rawValue, "--ws-nodes", "3,4"])
        options.quiet = true
        let config = try options.resolve(for: .closed)
        let h = try Harness(config: config)
        defer { h.shutdown() }
        let ls = h.loops[0]
        let layout = config.layout
        let members = (0..<layout.clients).filter { layout.room(of: $0) == 0 }
        let receivers = members.map { Client(id: $0, loopState: ls, joinsRoom: true, creates: false) }
        // Messages of room 0 from its members, round-robin, in reads of about readSize bytes.
        let perReceiver = max(1, deliveries / receivers.count)
        var reads: [[UInt8]] = []
        var current: [UInt8] = []
        var seq = [Int](repeating: 0, count: layout.clients)
        let pad = String(repeating: "x", count: 70)
        let now = monotonicNanos()
        for k in 0..<perReceiver {
            let s = members[k % members.count]
            let doc = "<XmlDoc><Action>SendPublicMessage</Action><Parameters><Message>\(now) \(seq[s]) \(pad)</Message><User>\(config.userName(s))</User><Variables/></Parameters></XmlDoc>"
            seq[s] += 1
            if transport == .tcp {
                current.append(contentsOf: doc.utf8)
                current.append(0)
            } else {
                // A node's text frame: unmasked, a 7- or 16-bit length.
                let n = doc.utf8.count
                current += n < 126 ? [0x81, UInt8(n)] : [0x81, 126, UInt8(n >> 8), UInt8(n & 0xFF)]
                current.append(contentsOf: doc.utf8)
            }
            if current.count >= readSize {
                // split the read inside a frame, like TCP does
                let cut = readSize
                reads.append(Array(current[0..<cut]))
                current = Array(current[cut...])
            }
        }
        if !current.isEmpty { reads.append(current) }
        let frameBytes = reads.reduce(0) { $0 + $1.count } / perReceiver
        let t0 = monotonicNanos()
        let reads2 = reads
        try ls.loop.submit {
            for r in reads2 {
                r.withUnsafeBytes { raw in
                    let t = monotonicNanos()
                    for c in receivers { c.receiveBytes(raw, now: t) }
                }
            }
        }.wait()
        let dt = Double(monotonicNanos() - t0) / 1e9
        let m = try MergedStats(harness: h)
        let total = Double(m.delivered)
        print("\(transport.rawValue): deliveries \(m.delivered) (\(frameBytes) B each) in \(fmt(dt, 3)) s: \(fmt(total / dt / 1e6, 2)) M/s, \(fmt(dt / total * 1e9, 1)) ns each; foreign \(m.foreign) gaps \(m.gaps) reorders \(m.reorders) disagreements \(ls.order.disagreements)")
    }
}
