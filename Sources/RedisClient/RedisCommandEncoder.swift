import CHiredis
import NIOCore

/// Encodes a command (argv) as a RESP array of bulk strings with hiredis's
/// `redisFormatCommandArgv`, appending the result to a ByteBuffer.
///
/// Arguments are lent to hiredis in place (no intermediate arrays or strings); hiredis's output
/// is copied once, straight into the destination buffer, and freed.
struct RedisCommandEncoder: Sendable {
    /// Redis's default `proto-max-bulk-len` is 512 MB; hiredis reports lengths as `int`.
    static let maxCommandBytes = 512 * 1024 * 1024
    /// Beyond this many arguments, argument pointers are gathered through one scratch copy
    /// instead of one nested closure per argument.
    static let maxNestedArguments = 32

    init() {}

    func encode(_ argv: [ByteBuffer], into buffer: inout ByteBuffer) throws {
        try encodeArguments(argv, into: &buffer)
    }

    func encode(_ argv: [String], into buffer: inout ByteBuffer) throws {
        try encodeArguments(argv, into: &buffer)
    }

    func encode(_ argv: [[UInt8]], into buffer: inout ByteBuffer) throws {
        try encodeArguments(argv, into: &buffer)
    }

    /// Any collection of arguments (`ByteBuffer`, `String`, `[UInt8]`, or your own `RedisArgument`).
    func encodeArguments<Arguments: RandomAccessCollection>(_ argv: Arguments, into buffer: inout ByteBuffer) throws
    where Arguments.Element: RedisArgument {
        let count = argv.count
        guard count > 0 else { throw RedisConnectionError.invalidCommand("empty command") }
        guard count < Int(Int32.max) / 2 else { throw RedisConnectionError.invalidCommand("too many arguments") }
        try withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: count) { pointers in
            try withUnsafeTemporaryAllocation(of: Int.self, capacity: count) { lengths in
                if count <= Self.maxNestedArguments {
                    try lend(argv, from: argv.startIndex, position: 0, pointers: pointers, lengths: lengths, into: &buffer)
                } else {
                    try gather(argv, pointers: pointers, lengths: lengths, into: &buffer)
                }
            }
        }
    }

    /// Collects each argument's pointer by nesting one closure per argument, then formats.
    private func lend<Arguments: RandomAccessCollection>(
        _ argv: Arguments, from index: Arguments.Index, position: Int,
        pointers: UnsafeMutableBufferPointer<UnsafePointer<CChar>?>, lengths: UnsafeMutableBufferPointer<Int>,
        into buffer: inout ByteBuffer
    ) throws where Arguments.Element: RedisArgument {
        if index == argv.endIndex {
            try format(count: position, pointers: pointers, lengths: lengths, into: &buffer)
            return
        }
        try argv[index].withRedisArgumentBytes { bytes in
            pointers[position] = Self.pointer(bytes, fallback: pointers)
            lengths[position] = bytes.count
            try lend(argv, from: argv.index(after: index), position: position + 1, pointers: pointers, lengths: lengths, into: &buffer)
        }
    }

    /// Many arguments: copies them into one scratch buffer so a single borrow covers them all.
    private func gather<Arguments: RandomAccessCollection>(
        _ argv: Arguments,
        pointers: UnsafeMutableBufferPointer<UnsafePointer<CChar>?>, lengths: UnsafeMutableBufferPointer<Int>,
        into buffer: inout ByteBuffer
    ) throws where Arguments.Element: RedisArgument {
        var scratch: [UInt8] = []
        for (position, argument) in argv.enumerated() {
            argument.withRedisArgumentBytes { bytes in
                lengths[position] = bytes.count
                scratch.append(contentsOf: bytes)
            }
        }
        try scratch.withUnsafeBytes { all in
            var offset = 0
            for position in 0..<argv.count {
                let slice = UnsafeRawBufferPointer(rebasing: all[offset..<offset + lengths[position]])
                pointers[position] = Self.pointer(slice, fallback: pointers)
                offset += lengths[position]
            }
            try format(count: argv.count, pointers: pointers, lengths: lengths, into: &buffer)
        }
    }

    private func format(
        count: Int, pointers: UnsafeMutableBufferPointer<UnsafePointer<CChar>?>, lengths: UnsafeMutableBufferPointer<Int>,
        into buffer: inout ByteBuffer
    ) throws {
        var total = 0
        for length in lengths.prefix(count) { total += length }
        guard total <= Self.maxCommandBytes else {
            throw RedisConnectionError.invalidCommand("\(total) bytes of arguments exceed \(Self.maxCommandBytes)")
        }
        var output: UnsafeMutablePointer<CChar>? = nil
        let length = redisFormatCommandArgv(&output, Int32(count), pointers.baseAddress, lengths.baseAddress)
        guard length >= 0, let output else {
            throw RedisConnectionError.invalidCommand("hiredis could not format the command (out of memory)")
        }
        defer { redisFreeCommand(output) }
        buffer.writeBytes(UnsafeRawBufferPointer(start: output, count: Int(length)))
    }

    /// hiredis never dereferences the pointer of an empty argument, but gets a valid one anyway.
    private static func pointer(
        _ bytes: UnsafeRawBufferPointer, fallback: UnsafeMutableBufferPointer<UnsafePointer<CChar>?>
    ) -> UnsafePointer<CChar> {
        if let base = bytes.baseAddress { return base.assumingMemoryBound(to: CChar.self) }
        return UnsafeRawPointer(fallback.baseAddress!).assumingMemoryBound(to: CChar.self)
    }
}
