import Synchronization

/// Counts connections per node and per remote address (PROTOCOL.md section 4,
/// ConnectionResponse Denied `Server is full`).
final class ConnectionLimiter: Sendable {
    private let maxTotal: Int
    private let maxPerAddress: Int?
    private let counts = Mutex<(total: Int, perAddress: [String: Int])>((0, [:]))

    init(maxTotal: Int, maxPerAddress: Int?) {
        self.maxTotal = maxTotal
        self.maxPerAddress = maxPerAddress
    }

    /// Takes a slot for `address`; false when the node or the address is full.
    func admit(_ address: String) -> Bool {
        counts.withLock { counts in
            guard counts.total < maxTotal else { return false }
            let current = counts.perAddress[address, default: 0]
            if let maxPerAddress, current >= maxPerAddress { return false }
            counts.total += 1
            counts.perAddress[address] = current + 1
            return true
        }
    }

    /// Gives back a slot taken by `admit`.
    func release(_ address: String) {
        counts.withLock { counts in
            counts.total -= 1
            let remaining = counts.perAddress[address, default: 1] - 1
            counts.perAddress[address] = remaining > 0 ? remaining : nil
        }
    }

    var connections: Int { counts.withLock { $0.total } }
}
