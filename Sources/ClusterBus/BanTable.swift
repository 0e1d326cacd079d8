/// The bans of a cluster held in one process (``InProcessBus``), with the rules the Redis
/// bus keeps with key TTLs (docs/cluster.md, "Bans"): a name ban per name key, optionally
/// carrying the address banned along with it; an address ban per client address, naming
/// the name key whose ban it came with, so that `Unban` of the name lifts it too. A ban
/// without an expiry lasts until it is lifted. Only moderators add bans, so the table is
/// not bounded; expired entries are dropped when looked at.
struct BanTable: Sendable {
    struct Entry: Sendable {
        /// Name bans: the address banned with it (""); address bans: the name key.
        var companion: String
        var expires: ContinuousClock.Instant?

        func isLive(at now: ContinuousClock.Instant) -> Bool {
            expires.map { now < $0 } ?? true
        }
    }

    private(set) var names: [String: Entry] = [:]
    private(set) var addresses: [String: Entry] = [:]

    /// Bans `nameKey` (replacing an earlier ban of it, expiry included) and, when given,
    /// `address` along with it, for `duration` (nil: until lifted).
    mutating func ban(_ nameKey: String, address: String?, for duration: Duration?, at now: ContinuousClock.Instant) {
        let expires = duration.map { now + $0 }
        names[nameKey] = Entry(companion: address ?? "", expires: expires)
        if let address, !address.isEmpty { addresses[address] = Entry(companion: nameKey, expires: expires) }
    }

    /// Lifts the name's ban and the address ban that came with it; false when the name was
    /// not banned.
    mutating func unban(_ nameKey: String, at now: ContinuousClock.Instant) -> Bool {
        guard let entry = names.removeValue(forKey: nameKey) else { return false }
        if !entry.companion.isEmpty, addresses[entry.companion]?.companion == nameKey {
            addresses[entry.companion] = nil
        }
        return entry.isLive(at: now)
    }

    mutating func isNameBanned(_ nameKey: String, at now: ContinuousClock.Instant) -> Bool {
        Self.isLive(nameKey, in: &names, at: now)
    }

    mutating func isAddressBanned(_ address: String, at now: ContinuousClock.Instant) -> Bool {
        Self.isLive(address, in: &addresses, at: now)
    }

    private static func isLive(_ key: String, in table: inout [String: Entry], at now: ContinuousClock.Instant) -> Bool {
        guard let entry = table[key] else { return false }
        if entry.isLive(at: now) { return true }
        table[key] = nil
        return false
    }
}
