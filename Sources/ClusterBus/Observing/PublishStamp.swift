#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// When a public message was published: the publishing node's wall clock, in microseconds
/// since 1970. It travels with the message (`T` batches, docs/cluster.md) so that the node
/// delivering it can tell the publish-to-delivery lag. Nodes on different machines compare
/// their clocks: keep them in sync (NTP), or the lag is off by their difference.
public struct PublishStamp: Sendable, Hashable, Comparable {
    public var microseconds: UInt64

    public init(microseconds: UInt64) {
        self.microseconds = microseconds
    }

    /// The wall clock now (one `clock_gettime`, no allocation).
    public static func now() -> PublishStamp {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return PublishStamp(microseconds: UInt64(max(0, time.tv_sec)) * 1_000_000 + UInt64(max(0, time.tv_nsec)) / 1000)
    }

    /// Nanoseconds from this stamp to `later` (0 when `later` is not later: clocks apart).
    public func nanoseconds(until later: PublishStamp) -> Int64 {
        later.microseconds > microseconds ? Int64(later.microseconds - microseconds) * 1000 : 0
    }

    public static func < (lhs: PublishStamp, rhs: PublishStamp) -> Bool {
        lhs.microseconds < rhs.microseconds
    }
}
