@testable import RedisClient
import NIOCore
import Testing

@Suite struct RedisCommandEncoderTests {
    /// The reference: RESP array of bulk strings, by hand.
    static func resp(_ argv: [[UInt8]]) -> [UInt8] {
        var out = Array("*\(argv.count)\r\n".utf8)
        for argument in argv {
            out += Array("$\(argument.count)\r\n".utf8) + argument + Array("\r\n".utf8)
        }
        return out
    }

    @Test func encodesStrings() throws {
        var buffer = ByteBuffer()
        try RedisCommandEncoder().encode(["SET", "key", "välue"], into: &buffer)
        #expect(String(buffer: buffer) == "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$6\r\nvälue\r\n")
    }

    @Test func encodesBinaryAndEmptyArguments() throws {
        let argv: [[UInt8]] = [Array("PUBLISH".utf8), [], [0, 13, 10, 255]]
        var buffer = ByteBuffer(string: "prefix")
        try RedisCommandEncoder().encode(argv.map { ByteBuffer(bytes: $0) }, into: &buffer)
        #expect(Array(buffer.readableBytesView) == Array("prefix".utf8) + Self.resp(argv))
        var bytes = ByteBuffer()
        try RedisCommandEncoder().encode(argv, into: &bytes)
        #expect(Array(bytes.readableBytesView) == Self.resp(argv))
    }

    @Test(arguments: [1, 31, 32, 33, 200])
    func encodesAnyNumberOfArguments(count: Int) throws {
        let argv = (0..<count).map { Array("arg\($0)".utf8) + ($0 % 7 == 0 ? [] : [UInt8($0 % 256)]) }
        var buffer = ByteBuffer()
        try RedisCommandEncoder().encode(argv.map { ByteBuffer(bytes: $0) }, into: &buffer)
        #expect(Array(buffer.readableBytesView) == Self.resp(argv))
    }

    @Test func encodesSlicesInPlace() throws {
        // A ByteBuffer argument is read from its reader index, not from the start of its storage.
        var backing = ByteBuffer(string: "xxGETyy")
        backing.moveReaderIndex(forwardBy: 2)
        let slice = backing.getSlice(at: 2, length: 3)!
        var buffer = ByteBuffer()
        try RedisCommandEncoder().encode([slice], into: &buffer)
        #expect(String(buffer: buffer) == "*1\r\n$3\r\nGET\r\n")
    }

    @Test func rejectsAnEmptyCommand() {
        var buffer = ByteBuffer()
        #expect(throws: RedisConnectionError.invalidCommand("empty command")) {
            try RedisCommandEncoder().encode([String](), into: &buffer)
        }
    }
}
