import ChorusTesting
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// "Nothing is lost in silence" (PROTOCOL.md, SendPublicMessage), judged under real faults:
/// three real `chorus-node` processes on one redis-server, 24 members in 3 rooms spread
/// over the nodes, each sending a public message every 50–100 ms while the fault happens.
/// Every test then ends the load the same way (`ChatLoad.finish`) and a `Verdict` checks the
/// rules: every message reached every member of its room exactly once in the room's one
/// order, or its sender got an `Error`, or the member got `Messages lost`; no message from a
/// user absent from the receiver's list; every user list true again; no session ended by a
/// fault of the cluster. The failure message is the verdict's diagnosis (counts and
/// examples); the same report is printed when a test passes.
///
/// Waits are for conditions (Redis no longer lists the node, the subscribers are back,
/// ...) with generous deadlines; fixed sleeps only set how long the load runs.
@Suite("Faults under chat load", .serialized, .nodeGate)
struct FaultTests {
    /// Seconds of chat before each fault.
    static let warmUp = 3.0
    /// Seconds of chat after each fault has ended.
    static let afterFault = 5.0

    @Test("No fault: the same load and checks pass (the harness's control)")
    func noFault() async throws {
        try await FaultCluster.with { cluster in
            let load = try await ChatLoad.start(cluster)
            defer { load.close() }
            load.startSending()
            await faultSleep(Self.warmUp + Self.afterFault)
            let finish = await load.finish()
            let newcomer = await load.serverLists(cluster, node: 1)
            let verdict = Verdict("No fault", finish, serverLists: newcomer, origin: load.origin)
            report(verdict, cluster, finish, origin: load.origin)
        }
    }

    @Test("SIGSTOP of a node until it is reaped, then SIGCONT: nothing lost in silence, lists whole")
    func pausedNodeIsReapedAndResumes() async throws {
        try await FaultCluster.with { cluster in
            let load = try await ChatLoad.start(cluster)
            defer { load.close() }
            let timeline = Timeline(load.origin)
            let paused = 2
            let id = cluster.nodeID(paused)
            let pausedMembers = load.members.filter { $0.node == paused }.map(\.name)

            load.startSending()
            await faultSleep(Self.warmUp)
            let stoppedAt = Date()
            cluster.pause(paused)
            timeline.mark("SIGSTOP n\(paused + 1) (\(id), members \(pausedMembers.joined(separator: ",")))")
            // Taken for dead: Redis no longer lists it (reapDead ran) ...
            let reaped = await eventually(timeout: .seconds(25), every: .seconds(0.2)) { cluster.registeredNodes().map { !$0.contains(id) } ?? false }
            timeline.mark(reaped ? "n\(paused + 1) reaped (not in nodes) after \(since(stoppedAt))" : "n\(paused + 1) still registered 25 s after SIGSTOP")
            // ... and a member on another node was told its members left.
            let othersSawLeave = await eventually(timeout: .seconds(5), every: .milliseconds(50)) {
                load.members.contains { member in
                    let frozenMates = Set(load.members.filter { $0.node == paused && $0.room == member.room }.map(\.name))
                    return member.node != paused && !frozenMates.isSubset(of: member.inspect(\.userList))
                }
            }
            timeline.mark(othersSawLeave ? "members elsewhere saw n\(paused + 1)'s members leave" : "no member elsewhere saw n\(paused + 1)'s members leave")
            await faultSleep(2)  // stay frozen a little past the reap
            cluster.resume(paused)
            let resumedAt = Date()
            timeline.mark("SIGCONT n\(paused + 1) after \(since(stoppedAt)) frozen")
            let registered = await eventually(timeout: .seconds(15), every: .seconds(0.2)) { cluster.registeredNodes()?.contains(id) == true }
            timeline.mark(registered ? "n\(paused + 1) registered again after \(since(resumedAt))" : "n\(paused + 1) not registered again within 15 s")
            await faultSleep(Self.afterFault)

            let finish = await load.finish()
            let newcomer = await load.serverLists(cluster, node: 0)
            var verdict = Verdict("SIGSTOP/SIGCONT of a node", finish, serverLists: newcomer,
                                  origin: load.origin, timeline: timeline.lines)
            var reap = Verdict.Category(key: "reap", name: "fault not injected (node never taken for dead)")
            if !reaped { reap.add(1, "n\(paused + 1) was still in Redis's nodes 25 s after SIGSTOP") }
            verdict.add(reap)
            report(verdict, cluster, finish, origin: load.origin)
        }
    }

    @Test("Redis stalls 8 s (DEBUG SLEEP, past the nodes' 5 s reply timeout): nothing lost in silence")
    func redisStallsPastTheReplyTimeout() async throws {
        try await redisStall(seconds: 8)
    }

    @Test("Redis stalls 3 s (DEBUG SLEEP, within the nodes' 5 s reply timeout): nothing lost in silence")
    func redisStallsWithinTheReplyTimeout() async throws {
        try await redisStall(seconds: 3)
    }

    private func redisStall(seconds: Int) async throws {
        try await FaultCluster.with { cluster in
            let load = try await ChatLoad.start(cluster)
            defer { load.close() }
            let timeline = Timeline(load.origin)

            load.startSending()
            await faultSleep(Self.warmUp)
            let sleeper = try cluster.redisCLIInBackground(["DEBUG", "SLEEP", "\(seconds)"])
            let startedAt = Date()
            timeline.mark("DEBUG SLEEP \(seconds)")
            let ended = await sleeper.waitForExit(timeout: .seconds(seconds + 20)) != nil
            let tookLong = Date().timeIntervalSince(startedAt) >= Double(seconds) - 0.5
            timeline.mark(ended ? "DEBUG SLEEP returned (status \(sleeper.terminationStatus ?? -1)) after \(since(startedAt))" : "DEBUG SLEEP still running")
            let registered = await eventually(timeout: .seconds(15), every: .seconds(0.2)) { cluster.registeredNodes()?.count == cluster.nodes.count }
            timeline.mark(registered ? "all nodes registered" : "not all nodes registered 15 s after the stall")
            await faultSleep(Self.afterFault)

            let finish = await load.finish()
            let newcomer = await load.serverLists(cluster, node: 0)
            var verdict = Verdict("Redis DEBUG SLEEP \(seconds)", finish, serverLists: newcomer,
                                  origin: load.origin, timeline: timeline.lines)
            var injected = Verdict.Category(key: "injected", name: "fault not injected")
            if !ended || sleeper.terminationStatus != 0 || !tookLong {
                injected.add(1, "DEBUG SLEEP \(seconds): ended \(ended), status \(sleeper.terminationStatus ?? -1), took \(since(startedAt))")
            }
            sleeper.signal(SIGTERM)
            verdict.add(injected)
            report(verdict, cluster, finish, origin: load.origin)
        }
    }

    @Test("CLIENT KILL TYPE pubsub three times (every node's subscriber at once): nothing lost in silence")
    func subscribersKilled() async throws {
        try await FaultCluster.with { cluster in
            let load = try await ChatLoad.start(cluster)
            defer { load.close() }
            let timeline = Timeline(load.origin)
            var injected = Verdict.Category(key: "injected", name: "fault not injected")

            load.startSending()
            await faultSleep(Self.warmUp)
            for round in 1...3 {
                let answer = (try? cluster.redisCLI(["CLIENT", "KILL", "TYPE", "pubsub"])) ?? []
                let killed = answer.first.flatMap { Int($0) } ?? 0
                timeline.mark("CLIENT KILL TYPE pubsub #\(round): \(killed) killed")
                if killed < cluster.nodes.count {
                    injected.add(1, "round \(round): CLIENT KILL TYPE pubsub answered \(answer)")
                }
                let back = await eventually(timeout: .seconds(15), every: .seconds(0.2)) { cluster.subscriberConnections() == cluster.nodes.count }
                timeline.mark(back ? "subscribers back" : "subscribers not all back within 15 s (\(cluster.subscriberConnections() ?? -1))")
                await faultSleep(1.5)
            }
            await faultSleep(Self.afterFault)

            let finish = await load.finish()
            let newcomer = await load.serverLists(cluster, node: 0)
            var verdict = Verdict("CLIENT KILL TYPE pubsub x3", finish, serverLists: newcomer,
                                  origin: load.origin, timeline: timeline.lines)
            verdict.add(injected)
            report(verdict, cluster, finish, origin: load.origin)
        }
    }

    @Test("SIGKILL of a node: its members leave every list within 10 s; private messages to them get User not found, never silence")
    func killedNode() async throws {
        try await FaultCluster.with { cluster in
            let load = try await ChatLoad.start(cluster)
            defer { load.close() }
            let timeline = Timeline(load.origin)
            let killed = 2
            let victims = load.members.filter { $0.node == killed }
            let victimNames = Set(victims.map(\.name))
            let targets = Array(victims.prefix(2))

            // A prober on node 1, in no room. Control: its private messages do reach the
            // targets while they live (so that a later User not found means something).
            let prober = try await load.helper("prober", cluster: cluster, node: 0)
            var control = Verdict.Category(key: "control", name: "private message control (before the kill)")
            for target in targets {
                prober.enqueue(Request.privateMessage(to: [target.name], "control"))
                let got = await target.waitForEvent(timeout: 10) {
                    if case .privateMessage("prober", "control") = $0 { return true }
                    return false
                }
                if got == nil { control.add(1, "\(target.name) did not receive the prober's private message") }
            }

            load.startSending()
            await faultSleep(Self.warmUp)
            let killedAt = Date()
            cluster.killNode(killed)
            timeline.mark("SIGKILL n\(killed + 1) (members \(victimNames.sorted().joined(separator: ",")))")

            // Probe every 300 ms until every surviving member saw every victim of its room
            // leave (at most 20 s), and 1.5 s more.
            var probes: [String: Int] = [:]
            var probesBeforeLeave = 0
            let watchers = load.members.filter { $0.node != killed }
            func allLeft() -> Bool {
                watchers.allSatisfy { watcher in
                    watcher.inspect(\.userList).isDisjoint(with: victims.filter { $0.room == watcher.room }.map(\.name))
                }
            }
            var leftAt: Date?
            var stopProbingAt = killedAt.addingTimeInterval(20)
            while Date() < stopProbingAt {
                for target in targets {
                    prober.enqueue(Request.privateMessage(to: [target.name], "probe"))
                    probes[target.name, default: 0] += 1
                    if leftAt == nil { probesBeforeLeave += 1 }
                }
                if leftAt == nil, allLeft() {
                    leftAt = Date()
                    stopProbingAt = min(stopProbingAt, Date().addingTimeInterval(1.5))
                    timeline.mark("every surviving member saw the victims leave, \(since(killedAt)) after the kill")
                }
                await faultSleep(0.3)
            }
            if leftAt == nil { timeline.mark("not every surviving member saw the victims leave within 20 s") }
            let sent = probes.values.reduce(0, +)
            func answers() -> [(reason: String, detail: String)] {
                prober.events().compactMap {
                    if case .error(let reason, "SendPrivateMessage", let detail) = $0.kind { return (reason, detail) }
                    return nil
                }
            }
            _ = await eventually(timeout: .seconds(5), every: .milliseconds(50)) { answers().count >= sent }
            await faultSleep(Self.afterFault)

            let finish = await load.finish()
            let newcomer = await load.serverLists(cluster, node: 0)
            var verdict = Verdict("SIGKILL of a node", finish, expectedGone: victimNames, serverLists: newcomer,
                                  origin: load.origin, timeline: timeline.lines)
            verdict.add(control)

            // Every surviving member of a victim's room got UserLeft for it within 10 s.
            var slow = Verdict.Category(key: "slowLeave", name: "victims not seen leaving within 10 s of the kill")
            var latest = 0.0
            for record in finish.records where !record.closed && record.room != nil && !victimNames.contains(record.name) {
                for victim in victims where victim.room == record.room {
                    let left = record.events.first {
                        if case .userLeft(victim.name) = $0.kind { return $0.at >= killedAt }
                        return false
                    }
                    guard let left else {
                        slow.add(1, "\(record.name) (n\(record.node + 1)) never got UserLeft \(victim.name)")
                        continue
                    }
                    let took = left.at.timeIntervalSince(killedAt)
                    latest = max(latest, took)
                    if took > 10 { slow.add(1, "\(record.name) (n\(record.node + 1)) got UserLeft \(victim.name) \(String(format: "%.1f", took)) s after the kill") }
                }
            }
            verdict.add(slow)

            // Private messages to the victims: each answered with Error User not found.
            let got = answers()
            var silent = Verdict.Category(key: "silentPrivate", name: "private messages to a killed node's users answered by silence")
            var wrong = Verdict.Category(key: "wrongPrivate", name: "private messages to a killed node's users answered otherwise than User not found")
            silent.add(max(0, sent - got.count), "\(sent) probes, \(got.count) answered: " + targets.map { target in
                "\(target.name) \(probes[target.name] ?? 0) probes, \(got.filter { $0.reason == "User not found" && $0.detail == target.name }.count) User not found"
            }.joined(separator: "; "))
            for other in got where other.reason != "User not found" || !targets.map(\.name).contains(other.detail) {
                wrong.add(1, "Error \(other.reason) (Detail \(other.detail))")
            }
            verdict.add(silent)
            verdict.add(wrong)
            verdict.addNote("private probes: \(sent) sent (\(probesBeforeLeave) before every member had seen the victims leave), \(got.count) answered")
            verdict.addNote(String(format: "slowest UserLeft of a victim: %.1f s after the kill", latest))
            report(verdict, cluster, finish, origin: load.origin)
        }
    }

    @Test("Redis restarted empty during chat: nothing lost in silence, lists whole")
    func redisRestartedEmpty() async throws {
        try await FaultCluster.with { cluster in
            let load = try await ChatLoad.start(cluster)
            defer { load.close() }
            let timeline = Timeline(load.origin)

            load.startSending()
            await faultSleep(Self.warmUp)
            let epochBefore = try cluster.redisCLI(["HGET", "\(cluster.prefix)epoch", "id"])
            await cluster.redis.stop()
            let downAt = Date()
            timeline.mark("redis-server stopped")
            // Down until the cluster noticed (some sender got an Error, at most 5 s), and at
            // least 1.5 s: an outage, not a blip.
            let errorsBefore = load.members.reduce(0) { $0 + $1.inspect(\.publicErrors) }
            let noticed = await eventually(timeout: .seconds(5), every: .milliseconds(50)) {
                load.members.reduce(0) { $0 + $1.inspect(\.publicErrors) } > errorsBefore
            }
            timeline.mark(noticed ? "senders got errors \(since(downAt)) after the stop" : "no sender got an error within 5 s of the stop")
            await faultSleep(max(0, 1.5 - Date().timeIntervalSince(downAt)))
            try await cluster.redis.restart()
            let upAt = Date()
            timeline.mark("redis-server started again, empty")
            let truth = Dictionary(uniqueKeysWithValues: load.plan.rooms.map { ($0, load.truth($0).count) })
            let restored = await eventually(timeout: .seconds(15), every: .seconds(0.2)) {
                cluster.registeredNodes()?.count == cluster.nodes.count
                    && truth.allSatisfy { cluster.memberCount($0.key) == $0.value }
            }
            timeline.mark(restored ? "nodes and room members back in Redis \(since(upAt)) after the start" : "Redis not whole 15 s after the start")
            await faultSleep(Self.afterFault)

            let finish = await load.finish()
            let newcomer = await load.serverLists(cluster, node: 0)
            var verdict = Verdict("Redis restarted empty", finish, serverLists: newcomer,
                                  origin: load.origin, timeline: timeline.lines)
            let epochAfter = (try? cluster.redisCLI(["HGET", "\(cluster.prefix)epoch", "id"])) ?? []
            var injected = Verdict.Category(key: "injected", name: "fault not injected")
            if epochBefore.isEmpty || epochAfter == epochBefore {
                injected.add(1, "the epoch did not change (before \(epochBefore), after \(epochAfter)): Redis did not come back empty")
            }
            verdict.add(injected)
            var whole = Verdict.Category(key: "restore", name: "Redis not whole again within 15 s")
            if !restored {
                whole.add(1, "nodes \(cluster.registeredNodes().map { $0.sorted() } ?? []), members \(truth.keys.sorted().map { "\($0)=\(cluster.memberCount($0) ?? -1)/\(truth[$0] ?? 0)" })")
            }
            verdict.add(whole)
            report(verdict, cluster, finish, origin: load.origin)
        }
    }

    /// Prints the verdict and fails with it (and the nodes' log tails) unless it passed.
    /// With `FAULT_DUMP_DIR` set, also writes every member's events there.
    private func report(_ verdict: Verdict, _ cluster: FaultCluster, _ finish: ChatLoad.Finish, origin: Date,
                        sourceLocation: SourceLocation = #_sourceLocation) {
        if let directory = ProcessInfo.processInfo.environment["FAULT_DUMP_DIR"], !directory.isEmpty {
            finish.dump(to: directory, name: verdict.title, origin: origin)
        }
        print(verdict)
        print("FAULT-SUMMARY \(verdict.title): \(verdict.passed ? "PASS" : "FAIL") — \(verdict.counts)")
        let passed = verdict.passed  // (not the verdict itself: #expect would print it twice)
        #expect(passed, "\(verdict)\n\(cluster.logTails())", sourceLocation: sourceLocation)
    }
}

/// What a fault test did when, relative to the load's start.
final class Timeline: Sendable {
    private let origin: Date
    private let entries = Mutex<[String]>([])

    init(_ origin: Date) { self.origin = origin }

    func mark(_ text: String) {
        let line = String(format: "+%.1fs ", Date().timeIntervalSince(origin)) + text
        entries.withLock { $0.append(line) }
    }

    var lines: [String] { entries.withLock { $0 } }
}

/// Seconds since `date`, for the timeline.
private func since(_ date: Date) -> String {
    String(format: "%.1f s", Date().timeIntervalSince(date))
}
