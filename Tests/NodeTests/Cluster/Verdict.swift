import ChorusTesting
import Foundation

/// Judges a chat load by the rules of PROTOCOL.md (SendPublicMessage, "Nothing is lost in
/// silence"; UpdateUserList), from the members' records alone, and describes every
/// violation with counts and examples so that a failure is a diagnosis.
///
/// Rules (membership is static in a load: every member joined before the first message
/// and none moves; a member "survives" if its connection stayed open):
///
/// - **lost**: a surviving member must have received, from each surviving sender of its
///   room that wrote N messages and got K `Error`s for `SendPublicMessage`, at least N − K
///   of them; from a sender whose connection died, every message any surviving member of
///   the room received. What is missing beyond the counts of the `Messages lost` notices
///   (`Error` `Messages lost`, count in `Detail`) it received is lost in silence.
/// - **duplicates**: no member receives a message twice.
/// - **order**: any two members of a room received their common messages in the same
///   relative order (counted as the fewest messages to drop to make them agree).
/// - **ghost senders**: no member receives a public message from a user absent from its
///   own user list at that moment (built from `JoinRoom`'s `<Users>` and every
///   `UpdateUserList` push).
/// - **wrong user lists**: after the load, every surviving member's list is the truth
///   (the surviving members of its room); so is the list a newcomer's `JoinRoom` gives.
/// - **unexpected closes**: a connection ends only where the test expects it (its node was
///   killed): errors and faults of the cluster never end a session.
/// - **liveness**: after the fault, a message reaches everybody again (the final round).
/// - **misattributed / phantoms / sanity**: the message's `<User>` is the sender named in
///   its text; no message that nobody sent; the load really ran (every surviving member
///   sent, and heard every surviving sender of its room).
struct Verdict: CustomStringConvertible {
    /// A kind of violation: how many, and a few examples.
    struct Category {
        /// One word, for ``counts``.
        let key: String
        let name: String
        var count = 0
        var examples: [String] = []
        /// Members concerned (when the check is per member).
        var members: Set<String> = []

        mutating func add(_ count: Int = 1, at member: String? = nil, _ example: @autoclosure () -> String) {
            guard count > 0 else { return }
            self.count += count
            if let member { members.insert(member) }
            if examples.count < 6 { examples.append(example()) }
        }
    }

    let title: String
    private(set) var categories: [Category] = []
    /// Facts that are no violation by themselves (totals, error reasons, anomalies).
    private(set) var notes: [String] = []

    /// Violations of every kind.
    var violations: Int { categories.reduce(0) { $0 + $1.count } }
    var passed: Bool { violations == 0 }

    /// - Parameters:
    ///   - finish: what `ChatLoad.finish` returned.
    ///   - expectedGone: members whose connection must have closed (their node was killed).
    ///   - serverLists: for each room, the user list a newcomer's `JoinRoom` gave (nil: the
    ///     join failed); rooms not in it are not checked.
    ///   - origin: time zero of the report (the load's start).
    ///   - timeline: what the test did when, for the report.
    init(_ title: String, _ finish: ChatLoad.Finish, expectedGone: Set<String> = [],
         serverLists: [String: [String]?] = [:], origin: Date, timeline: [String] = []) {
        self.title = title
        var lost = Category(key: "lost", name: "lost in silence (deliveries missing beyond errors and Messages lost notices)")
        var duplicates = Category(key: "duplicates", name: "duplicates")
        var order = Category(key: "order", name: "order violations (messages out of the room's one order)")
        var ghosts = Category(key: "ghosts", name: "ghost senders (message from a user absent from the receiver's list)")
        var lists = Category(key: "lists", name: "wrong user lists after the load")
        var serverWrong = Category(key: "newcomerLists", name: "wrong user lists given to a newcomer")
        var closes = Category(key: "closes", name: "unexpected closes")
        var liveness = Category(key: "liveness", name: "liveness (final round)")
        var misattributed = Category(key: "misattributed", name: "misattributed messages")
        var phantoms = Category(key: "phantoms", name: "phantom messages (never sent)")
        var sanity = Category(key: "sanity", name: "load sanity")

        let records = finish.records.filter { $0.room != nil }
        let byName = Dictionary(records.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        func t(_ date: Date) -> String { String(format: "+%.1fs", date.timeIntervalSince(origin)) }
        func who(_ record: MemberRecord) -> String { "\(record.name) (\(record.room ?? "-"), n\(record.node + 1))" }

        // Errors each sender got for SendPublicMessage, by reason.
        var senderErrors: [String: Int] = [:]
        var reasons: [String: Int] = [:]
        var otherErrors: [String: Int] = [:]
        for record in records {
            for event in record.events {
                guard case .error(let reason, let action, _) = event.kind, reason != "Messages lost" else { continue }
                if action == "SendPublicMessage" {
                    senderErrors[record.name, default: 0] += 1
                    reasons[reason, default: 0] += 1
                } else {
                    otherErrors["\(reason) (\(action.isEmpty ? "-" : action))", default: 0] += 1
                }
            }
        }

        // Each member's stream: messages in order, lists, ghosts, duplicates, notices.
        struct Stream {
            var sequence: [String] = []
            var seen: Set<String> = []
            var lostNotices = 0
            var lostCount = 0
            var finalList: Set<String> = []
        }
        var streams: [String: Stream] = [:]
        var anomalies: [String: Int] = [:]
        var anomalyExamples: [String] = []
        var fifoInversions = 0
        var fifoExample: String?
        var deliveries = 0
        for record in records {
            var stream = Stream()
            var list: Set<String> = []
            var leftAt: [String: Date] = [:]
            var lastNumber: [String: Int] = [:]
            var joins = 0
            // Consecutive ghost messages of one sender, reported as one run.
            struct GhostRun { var count: Int; var first: String; var last: String; var why: String }
            var ghostRuns: [String: GhostRun] = [:]
            func flushGhost(_ sender: String, _ run: GhostRun) {
                ghosts.add(run.count, at: record.name, "\(who(record)) got \(run.count) of \(sender)'s while \(sender) was not in its list (\(run.why)): \(run.first)\(run.count > 1 ? " to \(run.last)" : "")")
            }
            for event in record.events {
                switch event.kind {
                case .joined(let users):
                    joins += 1
                    if joins > 1 {
                        anomalies["JoinRoom success again", default: 0] += 1
                    }
                    list = Set(users)
                    if users.count != list.count { anomalies["JoinRoom <Users> with a name twice", default: 0] += 1 }
                case .userJoined(let user):
                    if list.contains(user) {
                        anomalies["UserJoined for a user already listed", default: 0] += 1
                        if anomalyExamples.count < 4 { anomalyExamples.append("\(who(record)) got UserJoined \(user) at \(t(event.at)) while listing it") }
                    }
                    list.insert(user)
                    leftAt[user] = nil
                case .userLeft(let user):
                    if !list.contains(user) {
                        anomalies["UserLeft for a user not listed", default: 0] += 1
                        if anomalyExamples.count < 4 { anomalyExamples.append("\(who(record)) got UserLeft \(user) at \(t(event.at)) while not listing it") }
                    }
                    list.remove(user)
                    leftAt[user] = event.at
                case .publicMessage(let sender, let text):
                    deliveries += 1
                    let parts = text.split(separator: "#", omittingEmptySubsequences: false)
                    let named = parts.count == 2 ? String(parts[0]) : ""
                    let number = parts.count == 2 ? Int(parts[1]) : nil
                    if named != sender {
                        misattributed.add(1, "\(who(record)) got \"\(text)\" attributed to \(sender)")
                    }
                    if let senderRecord = byName[named], let number, number < senderRecord.sent + senderRecord.unsent {
                        if let last = lastNumber[named], number < last {
                            fifoInversions += 1
                            if fifoExample == nil { fifoExample = "\(who(record)) got \(text) after \(named)#\(last)" }
                        }
                        lastNumber[named] = max(number, lastNumber[named] ?? number)
                    } else {
                        phantoms.add(1, "\(who(record)) got \"\(text)\" from \(sender), which no member sent")
                    }
                    if !list.contains(sender) {
                        let why = leftAt[sender].map { "UserLeft at \(t($0))" } ?? "never listed"
                        if var ghost = ghostRuns[sender], ghost.why == why {
                            ghost.count += 1
                            ghost.last = "\(text) at \(t(event.at))"
                            ghostRuns[sender] = ghost
                        } else {
                            if let ghost = ghostRuns[sender] { flushGhost(sender, ghost) }
                            ghostRuns[sender] = GhostRun(count: 1, first: "\(text) at \(t(event.at))", last: "", why: why)
                        }
                    } else if let ghost = ghostRuns.removeValue(forKey: sender) {
                        flushGhost(sender, ghost)
                    }
                    if stream.seen.contains(text) {
                        duplicates.add(1, at: record.name, "\(who(record)) got \(text) twice (again at \(t(event.at)))")
                    } else {
                        stream.seen.insert(text)
                        stream.sequence.append(text)
                    }
                case .error("Messages lost", _, let detail):
                    stream.lostNotices += 1
                    if let count = Int(detail.trimmingCharacters(in: .whitespaces)), count >= 0 {
                        stream.lostCount += count
                    } else {
                        sanity.add(1, "\(who(record)) got Messages lost with a Detail that is no count: \"\(detail)\"")
                    }
                default:
                    break
                }
            }
            for (sender, run) in ghostRuns.sorted(by: { $0.key < $1.key }) { flushGhost(sender, run) }
            stream.finalList = list
            streams[record.name] = stream
        }

        // Per room: completeness, order, lists.
        let rooms = Array(Set(records.compactMap(\.room))).sorted()
        var coveredByNotices = 0
        var excusedByErrors = 0
        for room in rooms {
            let inRoom = records.filter { $0.room == room }
            let survivors = inRoom.filter { !$0.closed }
            let truth = Set(survivors.map(\.name))

            // Messages of senders whose connection died: what any survivor got.
            var deadUnion: [String: Set<String>] = [:]
            for dead in inRoom where dead.closed {
                let prefix = dead.name + "#"
                deadUnion[dead.name] = survivors.reduce(into: Set<String>()) { union, member in
                    union.formUnion(streams[member.name]?.seen.filter { $0.hasPrefix(prefix) } ?? [])
                }
            }
            for member in survivors {
                guard let stream = streams[member.name] else { continue }
                var got: [String: Int] = [:]
                for text in stream.seen {
                    if let hash = text.lastIndex(of: "#") { got[String(text[..<hash]), default: 0] += 1 }
                }
                var short = 0
                var parts: [String] = []
                for sender in inRoom {
                    let missing: Int
                    if sender.closed {
                        missing = (deadUnion[sender.name] ?? []).subtracting(stream.seen).count
                        if missing > 0 { parts.append("\(missing) of dead \(sender.name)'s") }
                    } else {
                        let errors = senderErrors[sender.name] ?? 0
                        let received = got[sender.name] ?? 0
                        missing = max(0, sender.sent - errors - received)
                        excusedByErrors += max(0, min(errors, sender.sent - received))
                        if missing > 0 { parts.append("\(missing) of \(sender.name)'s (sent \(sender.sent), \(errors) errors, got \(received))") }
                        if received == 0, sender.sent > 0 {
                            sanity.add(1, "\(who(member)) received nothing of \(sender.name)'s \(sender.sent) messages")
                        }
                    }
                    short += missing
                }
                let unexplained = max(0, short - stream.lostCount)
                coveredByNotices += min(short, stream.lostCount)
                lost.add(unexplained, at: member.name, "\(who(member)) misses \(short)\(stream.lostCount > 0 ? " (Messages lost notices: \(stream.lostCount))" : ""): \(parts.prefix(4).joined(separator: "; "))\(parts.count > 4 ? "; ..." : "")")
                if stream.lostCount > short {
                    anomalies["Messages lost counts above what was missing", default: 0] += 1
                }
            }

            // Order: every pair of members of the room (dead ones included: what they got).
            for (i, a) in inRoom.enumerated() {
                guard let first = streams[a.name] else { continue }
                for b in inRoom[(i + 1)...] {
                    guard let second = streams[b.name] else { continue }
                    var position: [String: Int] = [:]
                    for (index, text) in second.sequence.enumerated() { position[text] = index }
                    let common = first.sequence.compactMap { position[$0] }
                    let disorder = common.count - longestIncreasing(common)
                    order.add(disorder, at: a.name, "\(a.name) and \(b.name) (\(room)): \(disorder) of \(common.count) common messages out of order")
                }
            }

            // Lists kept from pushes, against the truth.
            for member in survivors {
                guard let list = streams[member.name]?.finalList, list != truth else { continue }
                lists.add(1, at: member.name, "\(who(member)): missing \(truth.subtracting(list).sorted()), extra \(list.subtracting(truth).sorted())")
            }
            if let server = serverLists[room] {
                if let server {
                    if Set(server) != truth || server.count != Set(server).count {
                        serverWrong.add(1, "\(room): a newcomer's JoinRoom lists \(server.count) (missing \(truth.subtracting(server).sorted()), extra \(Set(server).subtracting(truth).sorted()))")
                    }
                } else {
                    serverWrong.add(1, "\(room): a newcomer could not join it")
                }
            }
        }

        // Connections.
        for record in records {
            if record.closed, !expectedGone.contains(record.name) {
                let at = record.events.last.map { t($0.at) } ?? "?"
                var why = ""
                if let error = record.events.last(where: { if case .error = $0.kind { return true } else { return false } }),
                   case .error(let reason, let action, _) = error.kind {
                    why = ", last Error: \(reason) (\(action))"
                }
                closes.add(1, "\(who(record)) closed by the node at \(at)\(why)")
            } else if !record.closed, expectedGone.contains(record.name) {
                closes.add(1, "\(who(record)) still connected, though its node was killed")
            }
        }
        for problem in finish.finalRoundProblems { liveness.add(1, problem) }

        // The load really ran.
        let sent = records.reduce(0) { $0 + $1.sent }
        for record in records where !record.closed {
            if record.sent < 10 { sanity.add(1, "\(who(record)) sent only \(record.sent) messages") }
            if record.unsent > 0 { sanity.add(1, "\(who(record)) could not write \(record.unsent) messages") }
        }
        if deliveries == 0 { sanity.add(1, "no message was delivered at all") }

        categories = [lost, duplicates, order, ghosts, lists, serverWrong, closes, liveness, misattributed, phantoms, sanity]

        let survivorsCount = records.filter { !$0.closed }.count
        let nodes = Set(records.map(\.node)).count
        notes.append("load: \(records.count) members (\(survivorsCount) connected at the end) in \(rooms.count) rooms on \(nodes) nodes; \(sent) messages sent, \(deliveries) delivered")
        let errorTotal = senderErrors.values.reduce(0, +)
        notes.append("sender errors for SendPublicMessage: \(errorTotal)" + (reasons.isEmpty ? "" : " (" + reasons.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + ")") + "; deliveries they may excuse: \(excusedByErrors)")
        let notices = streams.values.reduce(0) { $0 + $1.lostNotices }
        let noticed = streams.values.reduce(0) { $0 + $1.lostCount }
        notes.append("Messages lost notices: \(notices) (counting \(noticed) messages; \(coveredByNotices) missing deliveries covered)")
        if !otherErrors.isEmpty {
            notes.append("other errors: " + otherErrors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
        }
        if fifoInversions > 0 {
            notes.append("a sender's messages received out of sending order: \(fifoInversions) (e.g. \(fifoExample ?? ""))")
        }
        if !anomalies.isEmpty {
            notes.append("user-list anomalies: " + anomalies.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
                         + (anomalyExamples.isEmpty ? "" : "; e.g. " + anomalyExamples.joined(separator: "; ")))
        }
        notes.append("user lists whole within 2 s of the quiesce: \(finish.listsWereWholeWithin2s ? "yes" : "no")")
        notes += timeline
    }

    /// Adds a fact to the report.
    mutating func addNote(_ note: String) {
        notes.append(note)
    }

    /// Adds a test's own check (e.g. how fast a killed node's users left).
    mutating func add(_ category: Category) {
        categories.append(category)
    }

    /// The report: verdict, then facts, then each kind of violation with examples.
    var description: String {
        var lines = ["\(title): \(passed ? "PASS" : "FAIL") (\(violations) violations)"]
        lines += notes.map { "  " + $0 }
        for category in categories {
            lines.append("  \(category.name): \(category.count)" + (category.members.isEmpty ? "" : " (at \(category.members.count) members)"))
            lines += category.examples.map { "      e.g. " + $0 }
        }
        return lines.joined(separator: "\n")
    }

    /// The counts alone, one line (for a summary).
    var counts: String {
        categories.map { "\($0.key) \($0.count)" }.joined(separator: ", ")
    }
}

/// The length of the longest strictly increasing subsequence (patience sorting).
func longestIncreasing(_ values: [Int]) -> Int {
    var tails: [Int] = []
    for value in values {
        var low = 0
        var high = tails.count
        while low < high {
            let middle = (low + high) / 2
            if tails[middle] < value { low = middle + 1 } else { high = middle }
        }
        if low == tails.count { tails.append(value) } else { tails[low] = value }
    }
    return tails.count
}
