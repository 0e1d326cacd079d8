@testable import RedisClient
import NIOCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// hiredis's formatter against RESP written by hand in Swift. Off by default; run with
///
///     CHORUS_REDIS_BENCH=1 swift test -c release --filter RedisEncoderBenchmarkTests
///
/// Prints ns/command for hiredis, a plain Swift encoder and a raw-pointer Swift encoder (`swift*`);
/// asserts only that all three produce the same bytes (the issue requires hiredis's formatter).
@Suite(.enabled(if: redisBenchmarksEnabled))
struct RedisEncoderBenchmarkTests {
    /// The fastest obvious Swift encoder, for comparison only.
    static func handEncode(_ argv: [ByteBuffer], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "*"))
        writeDecimal(argv.count, into: &buffer)
        for argument in argv {
            buffer.writeInteger(UInt8(ascii: "$"))
            writeDecimal(argument.readableBytes, into: &buffer)
            buffer.writeImmutableBuffer(argument)
            buffer.writeStaticString("\r\n")
        }
    }

    /// Hand-written, one capacity check and raw stores: the best case for Swift.
    static func handEncodeRaw(_ argv: [ByteBuffer], into buffer: inout ByteBuffer) {
        var total = 3 + 20
        for argument in argv { total += argument.readableBytes + 25 }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
            var position = 0
            func put(_ byte: UInt8) {
                out[position] = byte
                position += 1
            }
            func putDecimal(_ value: Int) {
                var divisor = 1
                while divisor * 10 <= value { divisor *= 10 }
                var remaining = value
                while divisor > 0 {
                    put(UInt8(ascii: "0") + UInt8(remaining / divisor))
                    remaining %= divisor
                    divisor /= 10
                }
                put(13)
                put(10)
            }
            put(UInt8(ascii: "*"))
            putDecimal(argv.count)
            for argument in argv {
                put(UInt8(ascii: "$"))
                putDecimal(argument.readableBytes)
                argument.withUnsafeReadableBytes { bytes in
                    UnsafeMutableRawBufferPointer(rebasing: out[position...]).copyMemory(from: bytes)
                    position += bytes.count
                }
                put(13)
                put(10)
            }
            return position
        }
    }

    private static func writeDecimal(_ value: Int, into buffer: inout ByteBuffer) {
        // Digits without allocating.
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { raw in
            var index = raw.count
            var remaining = value
            repeat {
                index -= 1
                raw[index] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            } while remaining > 0
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[index...]))
        }
        buffer.writeStaticString("\r\n")
    }

    static func measure(_ label: String, iterations: Int, _ body: (inout ByteBuffer) throws -> Void) rethrows -> Double {
        var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
        // Warm up.
        for _ in 0..<1000 { try body(&buffer); buffer.clear() }
        let start = ContinuousClock.now
        for index in 0..<iterations {
            try body(&buffer)
            if index % 1000 == 999 { buffer.clear() }  // a flushed batch
        }
        let elapsed = ContinuousClock.now - start
        let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        let perCommand = nanoseconds / Double(iterations)
        print("\(label): \(format(perCommand)) ns/command")
        return perCommand
    }

    private static func format(_ value: Double) -> String {
        String(Double(Int(value * 10)) / 10)
    }

    @Test func compare() throws {
        let encoder = RedisCommandEncoder()
        let cases: [(String, [ByteBuffer])] = [
            ("PUBLISH 100 B", ["PUBLISH", "chorus:room:lobby:main", String(repeating: "m", count: 100)].map { ByteBuffer(string: $0) }),
            ("PUBLISH 4 KiB", ["PUBLISH", "chorus:room:lobby:main", String(repeating: "m", count: 4096)].map { ByteBuffer(string: $0) }),
            ("EVALSHA 8 args", (0..<8).map { ByteBuffer(string: "argument-\($0)") }),
            ("40 args (gather path)", (0..<40).map { ByteBuffer(string: "argument-\($0)") }),
        ]
        let iterations = 1_000_000
        for (_, argv) in cases {
            var expected = ByteBuffer()
            try encoder.encode(argv, into: &expected)
            var plain = ByteBuffer()
            Self.handEncode(argv, into: &plain)
            var raw = ByteBuffer()
            Self.handEncodeRaw(argv, into: &raw)
            #expect(plain == expected && raw == expected)
        }
        for (label, argv) in cases {
            let hiredis = try Self.measure("hiredis \(label)", iterations: iterations) { try encoder.encode(argv, into: &$0) }
            let swift = Self.measure("swift   \(label)", iterations: iterations) { Self.handEncode(argv, into: &$0) }
            let raw = Self.measure("swift*  \(label)", iterations: iterations) { Self.handEncodeRaw(argv, into: &$0) }
            print("  ratio hiredis/swift: \(Self.format(hiredis / swift)), hiredis/swift*: \(Self.format(hiredis / raw))")
        }
        let strings = ["SET", "user:12345:name", "some value"]
        _ = try Self.measure("hiredis SET [String]", iterations: iterations) { try encoder.encode(strings, into: &$0) }
    }
}

private let redisBenchmarksEnabled = (getenv("CHORUS_REDIS_BENCH").map { String(cString: $0) } ?? "") == "1"
