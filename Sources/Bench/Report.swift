/// Fixed-point formatting without Foundation.
func fmt(_ v: Double, _ decimals: Int) -> String {
    guard v.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let n = (abs(v) * scale).rounded()
    let intPart = Int64(n / scale)
    var s = (v < 0 && n != 0 ? "-" : "") + String(intPart)
    if decimals > 0 {
        var frac = String(Int64(n - Double(intPart) * scale))
        while frac.count < decimals { frac = "0" + frac }
        s += "." + frac
    }
    return s
}

/// Right-aligns (or left-aligns with a negative width) `s` in `width` columns.
func col(_ s: String, _ width: Int) -> String {
    let w = abs(width)
    if s.count >= w { return s }
    let pad = String(repeating: " ", count: w - s.count)
    return width < 0 ? s + pad : pad + s
}

/// The readable table of one or more results.
enum ReportPrinter {
    static func table(_ results: [JSONValue]) -> String {
        var out = ""
        let fanout = results.filter { ["closed", "rate", "private"].contains($0["mode"]?.string ?? "") }
        let logins = results.filter { $0["mode"]?.string == "logins" }
        let idle = results.filter { $0["mode"]?.string == "idle" }
        let churn = results.filter { $0["mode"]?.string == "churn" }

        if !fanout.isEmpty {
            let f = fanout[0]
            out += "== fan-out: \(f["clients"]?.int ?? 0) clients, \(f["rooms"]?.int ?? 0) rooms (\(fmt(f["members_per_room"]?.double ?? 0, 0)) members), "
                + "\(arrayCount(f["nodes"])) nodes, payload \(f["payload_bytes"]?.int ?? 0) B ==\n"
            let header = col("phase", -20) + col("sent/s", 9) + col("deliv/s", 10) + col("p50ms", 9) + col("p90ms", 9)
                + col("p99ms", 9) + col("maxms", 9) + col("loss", 9) + col("order", 6) + col("disagr", 7) + col("disc", 5)
                + col("errors", 7) + col("lag99", 7) + "  cpu% " + cpuNames(f)
            out += header + "\n" + String(repeating: "-", count: header.count) + "\n"
            for r in fanout {
                if r["error"] != nil {
                    out += col(r["label"]?.string ?? "?", -20) + "  FAILED: \(r["error"]?.string ?? "") (failed logins \(r["failed_logins"]?.int ?? 0): \(r["failures"]?.serialized() ?? ""))\n"
                    continue
                }
                let lag = r["send_lag_p99_ms"]?.double.map { fmt($0, 1) } ?? "-"
                let disagr = r["disagreements"]?.int.map { String($0) } ?? "-"
                out += col(r["label"]?.string ?? "?", -20)
                    + col(fmt(r["sent_per_s"]?.double ?? 0, 0), 9)
                    + col(fmt(r["deliveries_per_s"]?.double ?? 0, 0), 10)
                    + col(fmt(r["p50_ms"]?.double ?? 0, 2), 9)
                    + col(fmt(r["p90_ms"]?.double ?? 0, 2), 9)
                    + col(fmt(r["p99_ms"]?.double ?? 0, 2), 9)
                    + col(fmt(r["max_ms"]?.double ?? 0, 1), 9)
                    + col(String(r["loss"]?.int ?? 0), 9)
                    + col(String(r["order"]?.int ?? 0), 6)
                    + col(disagr, 7)
                    + col(String(r["disconnects"]?.int ?? 0), 5)
                    + col(String(r["errors"]?.int ?? 0), 7)
                    + col(lag, 7)
                    + "  " + cpuValues(r) + "\n"
            }
            out += "  sent/s: messages sent per second of the send window; deliv/s: deliveries received inside the window / window;\n"
            out += "  latency from the send time stamped in the message (rate: the scheduled slot time); loss: sent x members - delivered\n"
            out += "  after the drain; order: per-sender gaps + reorders seen by receivers; disagr: deliveries whose predecessor in the\n"
            out += "  room differs between members (room order agreement; private: -); disc: connections the node closed; errors: Error\n"
            out += "  frames + disconnects; lag99: generator send lateness p99 (ms, rate mode); cpu%: 100 = one core.\n"
            for r in fanout {
                if case .array(let tails)? = r["missing_tail_by_receiver_node"], tails.contains(where: { ($0.int ?? 0) > 0 }) {
                    out += "  \(r["label"]?.string ?? "?"): lost deliveries at the end of the stream, by receiving node: "
                        + tails.enumerated().map { "node\($0.offset + 1) \($0.element.int ?? 0)" }.joined(separator: ", ") + "\n"
                }
            }
            var reasons: [String: Int64] = [:]
            for r in fanout {
                if case .object(let f)? = r["error_reasons"] { for (k, v) in f { reasons[k, default: 0] += v.int ?? 0 } }
            }
            if !reasons.isEmpty {
                out += "  Error reasons: " + reasons.sorted { $0.value > $1.value }.map { "\($0.key) x\($0.value)" }.joined(separator: ", ") + "\n"
            }
        }
        if !logins.isEmpty {
            if !out.isEmpty { out += "\n" }
            out += "== logins ==\n"
            let header = col("phase", -20) + col("clients", 8) + col("conc", 6) + col("logins/s", 10) + col("p50ms", 9)
                + col("p90ms", 9) + col("p99ms", 9) + col("maxms", 9) + col("failed", 7) + col("errors", 7) + "  cpu% " + cpuNames(logins[0])
            out += header + "\n" + String(repeating: "-", count: header.count) + "\n"
            for r in logins {
                out += col(r["label"]?.string ?? "?", -20)
                    + col(String(r["clients"]?.int ?? 0), 8)
                    + col(String(r["concurrency"]?.int ?? 0), 6)
                    + col(fmt(r["logins_per_s"]?.double ?? 0, 0), 10)
                    + col(fmt(r["p50_ms"]?.double ?? 0, 2), 9)
                    + col(fmt(r["p90_ms"]?.double ?? 0, 2), 9)
                    + col(fmt(r["p99_ms"]?.double ?? 0, 2), 9)
                    + col(fmt(r["max_ms"]?.double ?? 0, 1), 9)
                    + col(String(r["failed_logins"]?.int ?? 0), 7)
                    + col(String(r["errors"]?.int ?? 0), 7)
                    + "  " + cpuValues(r) + "\n"
            }
            out += "  latency: TCP connect started -> LoginResponse Accepted (the connection stays open until the phase ends).\n"
        }
        if !idle.isEmpty {
            if !out.isEmpty { out += "\n" }
            out += "== idle memory ==\n"
            for r in idle {
                let perNode: [String] = {
                    if case .array(let a)? = r["per_node"] { return a.map { String($0.int ?? 0) } }
                    return []
                }()
                let over = (r["transport"]?.string).map { $0 == "tcp" ? "" : $0 == "ws" ? " over WebSocket" : " (\(r["ws_clients"]?.int ?? 0) of them over WebSocket)" } ?? ""
                out += "\(r["label"]?.string ?? "?"): \(r["connected"]?.int ?? 0)/\(r["clients"]?.int ?? 0) clients logged in\(over), in \(r["rooms"]?.int ?? 0) rooms, "
                    + "per node \(perNode.joined(separator: "/")), \(r["processes"]?.int ?? 1) generator process(es), settle \(fmt(r["settle_s"]?.double ?? 0, 0))s; "
                    + "failed \(r["failed_logins"]?.int ?? 0), disconnects \(r["disconnects"]?.int ?? 0), errors \(r["errors"]?.int ?? 0); "
                    + "set-up \(fmt(r["setup_s"]?.double ?? 0, 1))s, room/user-list pushes received \(r["other_frames"]?.int ?? 0)\n"
                if case .array(let procs)? = r["processes_watched"] {
                    for p in procs {
                        let b = Double(p["rss_before_kb"]?.int ?? -1) / 1024
                        let l = Double(p["rss_loaded_kb"]?.int ?? -1) / 1024
                        let a = Double(p["rss_after_disconnect_kb"]?.int ?? -1) / 1024
                        var line = "  \(p["name"]?.string ?? "?") (pid \(p["pid"]?.int ?? 0)): RSS \(fmt(b, 1)) MB -> \(fmt(l, 1)) MB loaded -> \(fmt(a, 1)) MB after disconnect"
                        if let conns = p["connections"]?.int {
                            line += "; \(conns) connections: \(p["kb_per_conn"]?.double.map { fmt($0, 1) } ?? "-") KB/conn"
                        }
                        out += line + "\n"
                    }
                }
            }
        }
        if !churn.isEmpty {
            if !out.isEmpty { out += "\n" }
            out += "== churn (connect/close cycles) ==\n"
            for r in churn { out += churnLines(r) }
        }
        return out
    }

    static func churnLines(_ r: JSONValue) -> String {
        let mb = { (key: String) -> String in
            guard let kb = r[key]?.double, kb >= 0 else { return "-" }
            return fmt(kb / 1024, 1) + " MB"
        }
        let bytes = { (key: String) -> String in r[key]?.double.map { fmt($0, 1) } ?? "-" }
        let kinds: String = {
            if case .object(let f)? = r["kinds"] { return f.filter { ($0.1.int ?? 0) > 0 }.map { "\($0.0) \($0.1.int ?? 0)" }.joined(separator: ", ") }
            return ""
        }()
        var out = "\(r["label"]?.string ?? "?"): \(r["completed"]?.int ?? 0)/\(r["cycles"]?.int ?? 0) cycles (\(r["warmup"]?.int ?? 0) warm-up) "
            + "to \(r["target"]?.string ?? "?"), concurrency \(r["concurrency"]?.int ?? 0): "
            + "\(fmt(r["cycles_per_s"]?.double ?? 0, 0)) cycles/s after warm-up (warm-up \(fmt(r["warmup_cycles_per_s"]?.double ?? 0, 0))/s), "
            + "cycle p50 \(fmt(r["p50_ms"]?.double ?? 0, 2)) ms p99 \(fmt(r["p99_ms"]?.double ?? 0, 2)) ms; failed \(r["failed"]?.int ?? 0)\n"
        out += "  kinds: \(kinds); denials: \(r["denials_note"]?.string ?? "-")"
            + ((r["held_lost"]?.int ?? 0) > 0 ? " (the node closed \(r["held_lost"]?.int ?? 0) of them during the run)" : "") + "\n"
        if case .object(let f)? = r["failures"], !f.isEmpty {
            out += "  failures: " + f.map { "\($0.0) x\($0.1.int ?? 0)" }.joined(separator: ", ") + "\n"
        }
        if r["bytes_per_cycle"]?.double != nil {
            out += "  \(r["node"]?.string ?? "node") RSS: \(mb("rss_start_kb")) start"
                + ((r["held_connections"]?.int ?? 0) > 0 ? ", \(mb("rss_held_kb")) holding \(r["held_connections"]?.int ?? 0)" : "")
                + ", \(mb("rss_warm_kb")) after warm-up, \(mb("rss_mid_kb")) half way, \(mb("rss_end_kb")) at the end"
                + (r["rss_released_kb"]?.double != nil ? ", \(mb("rss_released_kb")) released" : "") + "\n"
            out += "  growth after warm-up: \(bytes("bytes_per_cycle")) B/cycle = \(bytes("kb_per_100k_cycles")) KB per 100,000 cycles "
                + "(first half \(bytes("bytes_per_cycle_first_half")), second half \(bytes("bytes_per_cycle_second_half")) B/cycle; "
                + "warm-up \(bytes("warmup_bytes_per_cycle")) B/cycle)  cpu% \(cpuNames(r)) \(cpuValues(r))\n"
        } else {
            out += "  no node memory figures (give --pid of the target node)\n"
        }
        return out
    }

    private static func arrayCount(_ v: JSONValue?) -> Int {
        if case .array(let a)? = v { return a.count }
        return 0
    }

    private static func cpuNames(_ r: JSONValue) -> String {
        if case .object(let f)? = r["cpu_pct"] { return f.map(\.0).joined(separator: "/") }
        return ""
    }

    private static func cpuValues(_ r: JSONValue) -> String {
        if case .object(let f)? = r["cpu_pct"] {
            return f.map { fmt($0.1.double ?? -1, 0) }.joined(separator: "/")
        }
        return ""
    }
}
