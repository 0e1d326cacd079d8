import CHiredis
import NIOCore

/// Parses RESP with hiredis's reply reader (`redisReader`) and turns each `redisReply` tree
/// into a `RESPValue`.
///
/// Bytes from Redis are untrusted. Everything the reader reports as an error is thrown (after
/// which the reader stays failed), and one reply may not exceed `maxReplyBytes`, counted two
/// ways: bytes on the wire since the previous reply (so a huge bulk string cannot grow the
/// buffer without bound), and an estimate of hiredis's in-memory reply objects (so a long array
/// of tiny elements, or a bogus `*2147483647` header, cannot make hiredis allocate far more
/// than it received). Nesting is limited by hiredis itself (depth 7).
///
/// Not thread-safe: one reader belongs to one connection, on its event loop.
final class HiredisReplyReader {
    private let reader: UnsafeMutablePointer<redisReader>
    private let functions: UnsafeMutablePointer<redisReplyObjectFunctions>
    private let budget: UnsafeMutablePointer<Budget>
    private let allocator: ByteBufferAllocator
    /// Bytes fed since the end of the last complete reply: the size on the wire of the reply
    /// in progress.
    private var bytesSinceLastReply = 0
    private var failure: RedisConnectionError?

    let maxReplyBytes: Int

    /// Rough heap cost of one hiredis reply object (48-byte `redisReply` plus malloc overhead).
    static let objectOverhead = 64
    /// Value stored in `redisReply.integer` of a nil reply that was a null array (`*-1`).
    static let nullArrayMarker: Int64 = 1

    /// Per-reader state the C callbacks reach through the reader's `privdata`.
    private struct Budget {
        var original: redisReplyObjectFunctions
        var limit: Int
        var used = 0
        var exceeded = false

        mutating func charge(_ bytes: Int) -> Bool {
            used += bytes
            if used > limit { exceeded = true }
            return !exceeded
        }
    }

    init(maxReplyBytes: Int = 64 * 1024 * 1024, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        precondition(maxReplyBytes > 0, "maxReplyBytes must be positive")
        guard let reader = redisReaderCreate() else {
            fatalError("redisReaderCreate failed: out of memory")
        }
        self.reader = reader
        self.maxReplyBytes = maxReplyBytes
        self.allocator = allocator
        // Keep hiredis's buffer across reads of the usual size instead of freeing it whenever
        // it drains (the default threshold is 16 KiB; NIO reads up to 64 KiB at a time).
        reader.pointee.maxbuf = 64 * 1024

        // Wrap hiredis's default reply constructors to meter (and, for nulls, annotate) them.
        budget = .allocate(capacity: 1)
        budget.initialize(to: Budget(original: reader.pointee.fn.pointee, limit: maxReplyBytes))
        functions = .allocate(capacity: 1)
        functions.initialize(to: reader.pointee.fn.pointee)
        functions.pointee.createString = { task, string, length in
            let budget = HiredisReplyReader.budget(of: task)
            guard budget.pointee.charge(HiredisReplyReader.objectOverhead + length + 1) else { return nil }
            return budget.pointee.original.createString(task, string, length)
        }
        functions.pointee.createArray = { task, count in
            let budget = HiredisReplyReader.budget(of: task)
            guard budget.pointee.charge(HiredisReplyReader.objectOverhead + 8 * max(Int(count), 0)) else { return nil }
            return budget.pointee.original.createArray(task, count)
        }
        functions.pointee.createInteger = { task, value in
            let budget = HiredisReplyReader.budget(of: task)
            guard budget.pointee.charge(HiredisReplyReader.objectOverhead) else { return nil }
            return budget.pointee.original.createInteger(task, value)
        }
        functions.pointee.createNil = { task in
            let budget = HiredisReplyReader.budget(of: task)
            guard budget.pointee.charge(HiredisReplyReader.objectOverhead),
                  let object = budget.pointee.original.createNil(task)
            else { return nil }
            // hiredis 0.14 uses REDIS_REPLY_NIL for both `$-1` and `*-1`; the task still knows
            // which one it parsed.
            if task?.pointee.type == REDIS_REPLY_ARRAY {
                object.assumingMemoryBound(to: redisReply.self).pointee.integer = HiredisReplyReader.nullArrayMarker
            }
            return object
        }
        reader.pointee.fn = functions
        reader.pointee.privdata = UnsafeMutableRawPointer(budget)
    }

    deinit {
        // Frees any partial reply through `functions.freeObject` (hiredis's own freeReplyObject).
        redisReaderFree(reader)
        functions.deinitialize(count: 1)
        functions.deallocate()
        budget.deinitialize(count: 1)
        budget.deallocate()
    }

    private static func budget(of task: UnsafePointer<redisReadTask>?) -> UnsafeMutablePointer<Budget> {
        task!.pointee.privdata.assumingMemoryBound(to: Budget.self)
    }

    /// Adds bytes received from Redis. Throws if the reader already failed.
    func feed(_ bytes: ByteBuffer) throws {
        if let failure { throw failure }
        guard bytes.readableBytes > 0 else { return }
        let status = bytes.withUnsafeReadableBytes { raw in
            redisReaderFeed(reader, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
        }
        guard status == REDIS_OK else { throw fail() }
        bytesSinceLastReply += bytes.readableBytes
    }

    /// The next complete reply, or nil when more bytes are needed.
    func next() throws -> RESPValue? {
        try withNextReply { reply in Self.value(of: reply, allocator: allocator) }
    }

    /// Gives the next complete reply to `body` (the tree is freed afterwards); nil when more
    /// bytes are needed. Lets hot paths look at a reply without converting all of it.
    func withNextReply<Result>(_ body: (UnsafePointer<redisReply>) throws -> Result) throws -> Result? {
        if let failure { throw failure }
        var object: UnsafeMutableRawPointer? = nil
        guard redisReaderGetReply(reader, &object) == REDIS_OK else { throw fail() }
        guard let object else {
            if bytesSinceLastReply > maxReplyBytes {
                throw fail(.replyTooLarge(limit: maxReplyBytes))
            }
            return nil
        }
        defer { freeReplyObject(object) }
        budget.pointee.used = 0
        bytesSinceLastReply = reader.pointee.len - reader.pointee.pos
        return try body(object.assumingMemoryBound(to: redisReply.self))
    }

    private func fail(_ error: RedisConnectionError? = nil) -> RedisConnectionError {
        let error = error ?? {
            if budget.pointee.exceeded { return .replyTooLarge(limit: maxReplyBytes) }
            let message = withUnsafeBytes(of: reader.pointee.errstr) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            return .protocolError(message.isEmpty ? "hiredis reader error \(reader.pointee.err)" : message)
        }()
        failure = error
        return error
    }

    /// Converts a hiredis reply tree (at most 8 levels deep, hiredis enforces it).
    static func value(of reply: UnsafePointer<redisReply>, allocator: ByteBufferAllocator) -> RESPValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            return .bulk(buffer(r, allocator: allocator))
        case REDIS_REPLY_STATUS:
            return .simpleString(text(r))
        case REDIS_REPLY_ERROR:
            return .error(text(r))
        case REDIS_REPLY_INTEGER:
            return .integer(r.integer)
        case REDIS_REPLY_NIL:
            return r.integer == nullArrayMarker ? .array(nil) : .bulk(nil)
        case REDIS_REPLY_ARRAY:
            var elements: [RESPValue] = []
            elements.reserveCapacity(r.elements)
            for index in 0..<r.elements {
                elements.append(value(of: r.element[index]!, allocator: allocator))
            }
            return .array(elements)
        default:
            // hiredis 0.14 produces no other type.
            return .error("unsupported hiredis reply type \(r.type)")
        }
    }

    static func bytes(_ reply: redisReply) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: reply.str, count: reply.len)
    }

    static func buffer(_ reply: redisReply, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: reply.len)
        buffer.writeBytes(bytes(reply))
        return buffer
    }

    static func text(_ reply: redisReply) -> String {
        String(decoding: bytes(reply), as: UTF8.self)
    }
}
