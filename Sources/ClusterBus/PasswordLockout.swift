/// PROTOCOL.md section 7: a name with `failures` wrong account passwords within `window`,
/// from any node, gets `Too many attempts` for `lock`.
///
/// The window is fixed, from the name's first wrong password: the count restarts once
/// `window` has passed since then. Reaching `failures` locks the name for `lock` and clears
/// its count (after the lock, the name has `failures` attempts again). Wrong passwords
/// recorded while the name is locked change nothing (they neither count nor extend the
/// lock). `failures` of 0 or less turns the lockout off.
public struct PasswordLockout: Sendable, Hashable {
    public var failures: Int
    public var window: Duration
    public var lock: Duration

    /// The defaults are PROTOCOL.md's: 10 wrong passwords in 10 minutes lock for 5 minutes.
    public init(failures: Int = 10, window: Duration = .seconds(600), lock: Duration = .seconds(300)) {
        self.failures = failures
        self.window = window
        self.lock = lock
    }

    var isEnabled: Bool { failures > 0 }
}

/// The in-process record of wrong account passwords and lockouts (what `InProcessBus` keeps;
/// the Redis bus keeps the same in keys with TTLs). Pure logic: the caller gives the time.
///
/// Hostile clients may try millions of names, so the table is bounded: every call first
/// drops what has expired (in expiry order, amortized O(1): every count lives exactly
/// `window` and every lock exactly `lock`, so insertion order is expiry order), and at most
/// `capacity` counts and `capacity` locks are kept; past that, the oldest go first.
public struct PasswordLockoutTable: Sendable {
    public static let defaultCapacity = 100_000

    public let policy: PasswordLockout
    public let capacity: Int

    private struct Count: Sendable {
        var failures: Int
        let expires: ContinuousClock.Instant
    }

    private var counts: [String: Count] = [:]
    private var locks: [String: ContinuousClock.Instant] = [:]
    /// Name keys with the expiry they were given, in insertion (= expiry) order. An entry
    /// whose expiry no longer matches the table's (the count was cleared and begun again) is
    /// stale and skipped.
    private var countOrder = ExpiryQueue()
    private var lockOrder = ExpiryQueue()

    public init(policy: PasswordLockout, capacity: Int = defaultCapacity) {
        self.policy = policy
        self.capacity = max(1, capacity)
    }

    /// Name keys with a count or a lock in the table.
    public var trackedCount: Int { counts.count + locks.count }

    public mutating func isLockedOut(_ nameKey: String, at now: ContinuousClock.Instant) -> Bool {
        prune(now)
        return locks[nameKey] != nil
    }

    /// Records a wrong password; true when the name is locked out (now or already).
    public mutating func recordWrongPassword(_ nameKey: String, at now: ContinuousClock.Instant) -> Bool {
        prune(now)
        guard policy.isEnabled else { return false }
        if locks[nameKey] != nil { return true }
        var count: Count
        if let existing = counts[nameKey] {
            count = existing
        } else {
            count = Count(failures: 0, expires: now + policy.window)
            countOrder.append(nameKey, count.expires)
        }
        count.failures += 1
        if count.failures >= policy.failures {
            counts[nameKey] = nil
            let until = now + policy.lock
            locks[nameKey] = until
            lockOrder.append(nameKey, until)
            Self.bound(&locks, &lockOrder, capacity: capacity) { $0 }
            return true
        }
        counts[nameKey] = count
        Self.bound(&counts, &countOrder, capacity: capacity) { $0.expires }
        return false
    }

    private mutating func prune(_ now: ContinuousClock.Instant) {
        while let (key, expires) = countOrder.first, expires <= now {
            countOrder.removeFirst()
            if counts[key]?.expires == expires { counts[key] = nil }
        }
        while let (key, until) = lockOrder.first, until <= now {
            lockOrder.removeFirst()
            if locks[key] == until { locks[key] = nil }
        }
    }

    /// Drops the oldest entries past `capacity`, and rebuilds the queue when stale entries
    /// make it more than twice the table's size.
    private static func bound<Value>(_ table: inout [String: Value], _ order: inout ExpiryQueue, capacity: Int,
                                     expiry: (Value) -> ContinuousClock.Instant) {
        while table.count > capacity, let (key, expires) = order.first {
            order.removeFirst()
            if let value = table[key], expiry(value) == expires { table[key] = nil }
        }
        if order.count > 2 * max(table.count, 64) {
            order = ExpiryQueue(table.map { ($0.key, expiry($0.value)) }.sorted { $0.1 < $1.1 })
        }
    }
}

/// A first-in first-out queue of (name key, expiry) with amortized O(1) removal at the front.
private struct ExpiryQueue: Sendable {
    private var items: [(String, ContinuousClock.Instant)]
    private var head = 0

    init(_ items: [(String, ContinuousClock.Instant)] = []) {
        self.items = items
    }

    var count: Int { items.count - head }

    var first: (String, ContinuousClock.Instant)? { head < items.count ? items[head] : nil }

    mutating func append(_ key: String, _ expires: ContinuousClock.Instant) {
        items.append((key, expires))
    }

    mutating func removeFirst() {
        head += 1
        if head >= 1024 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}
