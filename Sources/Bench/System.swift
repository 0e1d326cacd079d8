import Dispatch
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Small system helpers without Foundation: files, /proc, limits, clocks, child processes.

#if os(Linux)
let rusageSelf = __rusage_who_t(RUSAGE_SELF.rawValue)
#else
let rusageSelf = RUSAGE_SELF
#endif

func stderrWrite(_ text: String) { writeAll(2, text) }
func stdoutWrite(_ text: String) { writeAll(1, text) }

private func writeAll(_ fd: Int32, _ text: String) {
    var text = text
    text.withUTF8 { buf in
        var off = 0
        while off < buf.count {
            let n = write(fd, buf.baseAddress! + off, buf.count - off)
            if n <= 0 { break }
            off += n
        }
    }
}

func trimmedSpaces<S: StringProtocol>(_ s: S) -> String {
    var sub = Substring(s)
    while let f = sub.first, f == " " || f == "\t" || f == "\n" { sub.removeFirst() }
    while let l = sub.last, l == " " || l == "\t" || l == "\n" { sub.removeLast() }
    return String(sub)
}

func readWholeFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if n < 0 { if errno == EINTR { continue }; return nil }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

@discardableResult
func writeWholeFile(_ path: String, _ text: String) -> Bool {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var text = text
    return text.withUTF8 { buf in
        var off = 0
        while off < buf.count {
            let n = write(fd, buf.baseAddress! + off, buf.count - off)
            if n <= 0 { return false }
            off += n
        }
        return true
    }
}

/// The one clock of the generator: CLOCK_MONOTONIC in ns (the clock NIO schedules with). Every
/// message carries it and every receiver in the process subtracts from it.
@inline(__always)
func monotonicNanos() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

func sleepSeconds(_ seconds: Double) {
    guard seconds > 0 else { return }
    var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var rest = timespec()
    while nanosleep(&ts, &rest) != 0 && errno == EINTR { ts = rest }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
@discardableResult
func raiseDescriptorLimit() -> Int {
    var rl = rlimit()
    #if os(Linux)
    let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    let resource = RLIMIT_NOFILE
    #endif
    guard getrlimit(resource, &rl) == 0 else { return 1024 }
    if rl.rlim_cur < rl.rlim_max {
        rl.rlim_cur = rl.rlim_max
        _ = setrlimit(resource, &rl)
        _ = getrlimit(resource, &rl)
    }
    return rl.rlim_cur > (1 << 30) ? 1 << 20 : Int(rl.rlim_cur)
}

/// Exits with status 3 when the whole run takes longer than `seconds`.
func startWatchdog(seconds: Double) {
    guard seconds > 0 else { return }
    DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
        stderrWrite("chorus-bench: --max-runtime \(seconds)s exceeded, exiting\n")
        exit(3)
    }
}

/// A process whose CPU time and memory are sampled (a node, redis).
struct WatchedProcess: Sendable, Equatable {
    var name: String
    var pid: Int32
    /// Index in --nodes when it is a node.
    var node: Int?
}

enum Proc {
    /// A `Key:   123 kB` value of /proc/PID/status, in kB (-1 if unreadable).
    static func statusKB(_ pid: Int32, _ key: String) -> Int64 {
        guard let text = readWholeFile("/proc/\(pid)/status") else { return -1 }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            let rest = line.dropFirst(key.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" })
            if let first = rest.first, let v = Int64(first) { return v }
        }
        return -1
    }

    static func rssKB(_ pid: Int32) -> Int64 { statusKB(pid, "VmRSS") }

    /// Open descriptors of a process (entries of /proc/PID/fd; -1 if unreadable).
    static func fdCount(_ pid: Int32) -> Int {
        guard let dir = opendir("/proc/\(pid)/fd") else { return -1 }
        defer { closedir(dir) }
        var n = 0
        while let entry = readdir(dir) {
            let first = withUnsafeBytes(of: entry.pointee.d_name) { $0.first ?? 0 }
            if first != UInt8(ascii: ".") { n += 1 }
        }
        return n
    }

    /// utime + stime of a process in clock ticks (-1 if unreadable).
    static func cpuTicks(_ pid: Int32) -> Int64 {
        guard let text = readWholeFile("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return -1 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let u = Int64(fields[11]), let s = Int64(fields[12]) else { return -1 }
        return u + s
    }

    static var ticksPerSecond: Double {
        let t = sysconf(Int32(_SC_CLK_TCK))
        return t > 0 ? Double(t) : 100
    }

    /// The aggregate cpu line of /proc/stat: user nice system idle iowait irq softirq steal.
    static func machineTicks() -> [Int64] {
        guard let text = readWholeFile("/proc/stat"), let line = text.split(separator: "\n").first else { return [] }
        let f = line.split(separator: " ")
        guard f.first == "cpu" else { return [] }
        return f.dropFirst().compactMap { Int64($0) }
    }

    /// CPU seconds used by this process so far.
    static func selfCPUSeconds() -> Double {
        var ru = rusage()
        getrusage(rusageSelf, &ru)
        return Double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + Double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6
    }

    static func selfMaxRSSKB() -> Int64 {
        var ru = rusage()
        getrusage(rusageSelf, &ru)
        return Int64(ru.ru_maxrss)
    }

    static var cpuCount: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
}

/// CPU use of the watched processes, the generator and the whole machine over an interval.
struct CPUSampler {
    private var ticks: [Int64]
    private var selfCPU: Double
    private var machine: [Int64]
    private var start: UInt64
    let watched: [WatchedProcess]

    init(watched: [WatchedProcess]) {
        self.watched = watched
        ticks = watched.map { Proc.cpuTicks($0.pid) }
        selfCPU = Proc.selfCPUSeconds()
        machine = Proc.machineTicks()
        start = monotonicNanos()
    }

    /// Percent of one core per process ("bench" is the generator), and the machine's busy and
    /// steal percent (100 = one core).
    func finish() -> (perProcess: [(String, Double)], machineBusy: Double, machineSteal: Double) {
        let wall = max(1e-6, Double(monotonicNanos() - start) / 1e9)
        let hz = Proc.ticksPerSecond
        var out: [(String, Double)] = []
        for (k, w) in watched.enumerated() {
            let t = Proc.cpuTicks(w.pid)
            out.append((w.name, t >= 0 && ticks[k] >= 0 ? 100 * Double(t - ticks[k]) / hz / wall : -1))
        }
        out.append(("bench", 100 * (Proc.selfCPUSeconds() - selfCPU) / wall))
        let m1 = Proc.machineTicks()
        var busy = -1.0, steal = -1.0
        if m1.count >= 8 && machine.count >= 8 {
            var total: Int64 = 0
            for i in 0..<8 { total += m1[i] - machine[i] }
            let idle = (m1[3] - machine[3]) + (m1[4] - machine[4])
            let st = m1[7] - machine[7]
            // As shares of all ticks counted, times the CPU count: on some VMs the tick counters
            // run faster than the wall clock under network load, so dividing by wall time overstates.
            let cores = Double(max(1, Proc.cpuCount))
            if total > 0 {
                busy = 100 * cores * Double(total - idle - st) / Double(total)
                steal = 100 * cores * Double(st) / Double(total)
            }
        }
        return (out, busy, steal)
    }
}

/// A child process with a pipe to its stdin and from its stdout (stderr inherited).
final class ChildProcess {
    let pid: pid_t
    private var stdinFD: Int32
    private var stdoutFD: Int32
    private var pending: [UInt8] = []

    /// With `logPath`, the child's stdout and stderr go to that file (appended) instead.
    init(executable: String, arguments: [String], logPath: String? = nil) throws {
        var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0]
        guard pipe(&inPipe) == 0, pipe(&outPipe) == 0 else { throw BenchError("pipe failed: errno \(errno)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_addclose(&actions, inPipe[1])
        posix_spawn_file_actions_addclose(&actions, outPipe[0])
        if let logPath {
            posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        let argv = ([executable] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var cargv: [UnsafeMutablePointer<CChar>?] = argv + [nil]
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, nil, &cargv, environ)
        close(inPipe[0])
        close(outPipe[1])
        guard rc == 0 else {
            close(inPipe[1])
            close(outPipe[0])
            throw BenchError("cannot start \(executable): error \(rc)")
        }
        pid = child
        stdinFD = inPipe[1]
        stdoutFD = outPipe[0]
    }

    /// The next line of the child's stdout (without the newline), or nil at end of stream.
    func readLine() -> String? {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[0..<nl], as: UTF8.self)
                pending.removeSubrange(0...nl)
                return line
            }
            guard stdoutFD >= 0 else { return nil }
            let n = chunk.withUnsafeMutableBytes { read(stdoutFD, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                if pending.isEmpty { return nil }
                let line = String(decoding: pending, as: UTF8.self)
                pending.removeAll()
                return line
            }
            pending.append(contentsOf: chunk[0..<n])
        }
    }

    /// Closes the child's stdin: an idle worker takes that as the signal to disconnect and exit.
    func closeStdin() {
        if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
    }

    func terminate() { kill(pid, SIGTERM) }

    private func closeStdout() {
        if stdoutFD >= 0 { close(stdoutFD); stdoutFD = -1 }
    }

    /// SIGTERM, then SIGKILL after `grace` seconds; reaps the child. Returns its wait status.
    @discardableResult
    func stop(grace: Double = 5) -> Int32 {
        closeStdin()
        kill(pid, SIGTERM)
        let deadline = monotonicNanos() + UInt64(grace * 1e9)
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno != EINTR) { break }
            if monotonicNanos() > deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                break
            }
            sleepSeconds(0.02)
        }
        closeStdout()
        return status
    }

    @discardableResult
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        closeStdout()
        return status
    }
}

/// Path of the running executable (for starting idle workers).
func ownExecutablePath() -> String {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buf, buf.count - 1)
    if n > 0 {
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    return CommandLine.arguments[0]
}

/// Reads stdin until end of file (an idle worker's "hold" signal).
func waitForStdinEOF() {
    var buf = [UInt8](repeating: 0, count: 256)
    while true {
        let n = buf.withUnsafeMutableBytes { read(0, $0.baseAddress!, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
