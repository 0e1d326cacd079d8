import NIOCore

/// A command argument whose bytes can be lent to hiredis's formatter without copying.
protocol RedisArgument {
    /// Calls `body` with the argument's bytes, valid only during the call.
    func withRedisArgumentBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result
}

extension ByteBuffer: RedisArgument {
    @inlinable
    func withRedisArgumentBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withUnsafeReadableBytes(body)
    }
}

extension String: RedisArgument {
    @inlinable
    func withRedisArgumentBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        var copy = self  // no copy of the bytes for native strings; withUTF8 just needs `inout`
        return try copy.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }
}

extension Array: RedisArgument where Element == UInt8 {
    @inlinable
    func withRedisArgumentBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withUnsafeBytes(body)
    }
}
