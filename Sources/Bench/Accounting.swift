// Order and loss accounting: what every receiver checks per delivery, and how the per-event-loop
// tables are merged after the run.

/// The scenario's arithmetic: client i connects to node i mod N and joins room (i / N) mod R, so
/// every room has members on every node and every public message crosses the cluster bus.
struct Layout: Sendable, Equatable {
    let clients: Int
    let nodes: Int
    let rooms: Int

    init(clients: Int, nodes: Int, rooms: Int) {
        precondition(clients >= 0 && nodes > 0 && rooms > 0)
        self.clients = clients
        self.nodes = nodes
        self.rooms = rooms
    }

    @inline(__always) func node(of i: Int) -> Int { i % nodes }
    @inline(__always) func room(of i: Int) -> Int { (i / nodes) % rooms }

    /// The position of client i among the members of its room, 0-based and dense: members of
    /// room r are i = N·(k·R + r) + j (j < N), numbered k·N + j.
    @inline(__always) func member(of i: Int) -> Int { ((i / nodes) / rooms) * nodes + i % nodes }

    /// The client at member position m of room r (inverse of `member(of:)`).
    func client(room r: Int, member m: Int) -> Int { nodes * ((m / nodes) * rooms + r) + m % nodes }

    /// How many of the clients are in each room.
    var membersPerRoom: [Int] {
        var counts = [Int](repeating: 0, count: rooms)
        for i in 0..<clients { counts[room(of: i)] += 1 }
        return counts
    }

    /// The first member of each room that exists: the client that creates it.
    var creators: [Int] {
        (0..<rooms).map { client(room: $0, member: 0) }.filter { $0 < clients }
    }
}

/// Per-sender sequence check of one receiver, like the peer's: the next expected sequence from a
/// sender is last+1; a lower or equal one is an order violation (a reorder or a duplicate), a
/// higher one a gap of (seq - last - 1) messages.
struct SequenceCheck: Equatable {
    var gaps: Int64 = 0
    var reorders: Int64 = 0

    /// Applies one delivery to `last` (the highest sequence seen from that sender, -1 = none).
    @inline(__always)
    mutating func observe(_ seq: Int32, last: inout Int32) {
        if seq == last &+ 1 {
            last = seq
        } else if seq <= last {
            reorders += 1
        } else {
            gaps += Int64(seq - last - 1)
            last = seq
        }
    }
}

/// Fixed-size table of the last sequence seen per sender (indexed by the sender's member position
/// in the room), one per receiver.
final class LastSeen {
    let count: Int
    let values: UnsafeMutablePointer<Int32>

    init(count: Int) {
        self.count = count
        values = .allocate(capacity: max(count, 1))
        values.initialize(repeating: -1, count: max(count, 1))
    }

    deinit { values.deallocate() }
}

/// The key of a message in a room's order: (sender, seq) packed into 64 bits. 1 means "nothing
/// before" (the first message a receiver sees in its room); 0 means "not recorded".
@inline(__always)
func messageKey(sender: Int, seq: Int) -> UInt64 {
    UInt64(truncatingIfNeeded: sender &+ 1) << 32 | UInt64(truncatingIfNeeded: seq) & 0xFFFF_FFFF
}
let noPredecessor: UInt64 = 1

/// Cross-member order agreement within a room, exact and O(1) per delivery.
///
/// PROTOCOL.md promises that all members of a room receive the room's messages in one order. Each
/// receiver remembers the key of the previous message it saw in its room (its *predecessor*).
/// This table keeps, for every message (sender, seq), the predecessor reported by the first
/// receiver that got it, and counts every later receiver reporting a different one.
///
/// Why that is exact: a receiver's sequence is a chain in which every message points to the one
/// before it. If every receiver of every message reports the same predecessor, then, starting
/// from the message whose predecessor is "none", each chain is forced step by step to be the same
/// chain: the sequences are identical (over the messages each got). Conversely, if two members
/// order two messages differently, the first position where their sequences differ gives a
/// message whose predecessors differ, and that delivery is counted. No hashing, so no false
/// agreement; the cost is one array slot per message per event loop (16 bytes) and one compare
/// per delivery. A lost delivery also changes the predecessor of the next message at that receiver,
/// so with loss the count includes up to one disagreement per lost delivery; with zero loss every
/// count is a real ordering difference.
///
/// Tables are per event loop (no sharing between threads); `merge` compares them slot by slot
/// afterwards: a loop whose first receiver saw another predecessor than the reference loop adds all
/// receivers that agreed with it (`matches`) to the disagreements.
final class RoomOrderTable {
    struct Entry: Equatable {
        var predecessor: UInt64 = 0
        var matches: UInt32 = 0
    }

    private struct Column {
        var entries: UnsafeMutablePointer<Entry>?
        var capacity: Int = 0
    }

    /// One column per sender (a raw buffer: no reference counting on the per-delivery path).
    private let columns: UnsafeMutablePointer<Column>
    let senders: Int
    /// Deliveries whose predecessor differed from the one first recorded in this table.
    private let counter: UnsafeMutablePointer<Int64>
    var disagreements: Int64 { counter.pointee }
    /// Largest sequence accepted (protects against absurd values in foreign messages).
    static let maxSequence = 1 << 28

    init(senders: Int) {
        self.senders = max(senders, 0)
        columns = .allocate(capacity: max(senders, 1))
        columns.initialize(repeating: Column(), count: max(senders, 1))
        counter = .allocate(capacity: 1)
        counter.initialize(to: 0)
    }

    deinit {
        for s in 0..<senders { columns[s].entries?.deallocate() }
        columns.deallocate()
        counter.deallocate()
    }

    /// Records that a receiver got (sender, seq) right after `predecessor`; returns false on a
    /// disagreement.
    @inline(__always)
    @discardableResult
    func observe(sender: Int, seq: Int, predecessor: UInt64) -> Bool {
        guard sender >= 0, sender < senders, seq >= 0, seq < Self.maxSequence else { return true }
        if seq >= columns[sender].capacity { grow(sender, to: seq + 1) }
        let column = columns[sender]
        let slot = column.entries! + seq
        if slot.pointee.predecessor == 0 {
            slot.pointee = Entry(predecessor: predecessor, matches: 1)
            return true
        }
        if slot.pointee.predecessor == predecessor {
            slot.pointee.matches &+= 1
            return true
        }
        counter.pointee += 1
        return false
    }

    private func grow(_ sender: Int, to needed: Int) {
        let old = columns[sender]
        var capacity = max(64, old.capacity)
        while capacity < needed { capacity *= 2 }
        let fresh = UnsafeMutablePointer<Entry>.allocate(capacity: capacity)
        fresh.initialize(repeating: Entry(), count: capacity)
        if let e = old.entries {
            fresh.update(from: e, count: old.capacity)
            e.deallocate()
        }
        columns[sender] = Column(entries: fresh, capacity: capacity)
    }

    func entry(sender: Int, seq: Int) -> Entry {
        guard sender >= 0, sender < senders, seq >= 0, seq < columns[sender].capacity else { return Entry() }
        return columns[sender].entries![seq]
    }

    func recorded(sender: Int) -> Int {
        sender >= 0 && sender < senders ? columns[sender].capacity : 0
    }

    /// Total disagreements over several per-loop tables: each table's own count plus, per message,
    /// the receivers of tables whose first predecessor differs from the first table that has one.
    static func merge(_ tables: [RoomOrderTable]) -> Int64 {
        var total = tables.reduce(Int64(0)) { $0 + $1.disagreements }
        guard tables.count > 1 else { return total }
        let senders = tables.map(\.senders).max() ?? 0
        for s in 0..<senders {
            let length = tables.map { $0.recorded(sender: s) }.max() ?? 0
            for q in 0..<length {
                var reference: UInt64 = 0
                for t in tables {
                    let e = t.entry(sender: s, seq: q)
                    if e.predecessor == 0 { continue }
                    if reference == 0 {
                        reference = e.predecessor
                    } else if e.predecessor != reference {
                        total += Int64(e.matches)
                    }
                }
            }
        }
        return total
    }
}

/// Loss: what should have arrived (each public message once per member of the sender's room,
/// the sender included; a private message once) minus what did.
func expectedDeliveries(sentPerClient: [Int], layout: Layout, isPrivate: Bool) -> Int64 {
    if isPrivate { return sentPerClient.reduce(Int64(0)) { $0 + Int64($1) } }
    let members = layout.membersPerRoom
    var total: Int64 = 0
    for (i, sent) in sentPerClient.enumerated() where sent > 0 {
        total += Int64(sent) * Int64(members[layout.room(of: i)])
    }
    return total
}
