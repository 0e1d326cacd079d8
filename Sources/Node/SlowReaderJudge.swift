/// Decides when a client is a slow reader (PROTOCOL.md section 7): judged on what stays
/// unread, never on the size of one response.
///
/// The channel's write-buffer high watermark is the bound. Crossing it starts a watch:
/// - if, at a check one grace period later, the client has read nothing of what was
///   waiting (the buffered bytes did not go down) and the buffer is still over the bound,
///   it is cut;
/// - while over the bound, anything queued on top counts; more than another bound's worth
///   cuts at once, so a client that never reads holds at most one response plus twice the
///   bound, whatever others send it.
/// A long room list or a large `JoinRoom` is read by a live client well within the grace
/// period, so it never counts by itself. Pure: the handler feeds it the channel's numbers.
struct SlowReaderJudge {
    let bound: Int
    private(set) var watching = false
    private var bufferedAtLastCheck = Int.max
    private var queuedSinceOverBound = 0
    private var queuedSinceLastCheck = 0

    init(bound: Int) {
        self.bound = bound
    }

    /// The buffer went over the bound, holding `buffered` bytes.
    mutating func becameUnwritable(buffered: Int) {
        if !watching {
            watching = true
            queuedSinceOverBound = 0
        }
        bufferedAtLastCheck = buffered
        queuedSinceLastCheck = 0
    }

    /// The client read enough to go back under the low watermark.
    mutating func becameWritable() {
        watching = false
        queuedSinceOverBound = 0
        queuedSinceLastCheck = 0
        bufferedAtLastCheck = .max
    }

    /// `count` more bytes were queued while over the bound; true: cut now.
    mutating func queued(_ count: Int) -> Bool {
        guard watching else { return false }
        queuedSinceOverBound += count
        queuedSinceLastCheck += count
        return queuedSinceOverBound > bound
    }

    /// A grace period passed; true: cut (still over the bound, and nothing was read since
    /// the last look: what was waiting then, plus what was queued since, is all still there).
    mutating func check(writable: Bool, buffered: Int) -> Bool {
        if writable {
            becameWritable()
            return false
        }
        let waiting = bufferedAtLastCheck == .max ? .max : bufferedAtLastCheck + queuedSinceLastCheck
        bufferedAtLastCheck = buffered
        queuedSinceLastCheck = 0
        return buffered >= waiting
    }
}
