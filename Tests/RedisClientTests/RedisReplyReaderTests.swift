@testable import RedisClient
import NIOCore
import Testing

@Suite struct RedisReplyReaderTests {
    /// Every RESP2 type, including empty, null, binary and nested values.
    static let samples: [(wire: String, value: RESPValue)] = [
        ("+OK\r\n", .simpleString("OK")),
        ("+\r\n", .simpleString("")),
        ("-ERR unknown command\r\n", .error("ERR unknown command")),
        (":42\r\n", .integer(42)),
        (":-9223372036854775808\r\n", .integer(.min)),
        ("$5\r\nhello\r\n", .bulk(ByteBuffer(string: "hello"))),
        ("$0\r\n\r\n", .bulk(ByteBuffer())),
        ("$4\r\na\r\nb\r\n", .bulk(ByteBuffer(string: "a\r\nb"))),
        ("$-1\r\n", .bulk(nil)),
        ("*-1\r\n", .array(nil)),
        ("*0\r\n", .array([])),
        ("*3\r\n:1\r\n$-1\r\n*-1\r\n", .array([.integer(1), .bulk(nil), .array(nil)])),
        ("*2\r\n*2\r\n+a\r\n-b\r\n*1\r\n*1\r\n*0\r\n",
         .array([.array([.simpleString("a"), .error("b")]), .array([.array([.array([])])])])),
        ("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\n\u{0}\u{1}\u{2}\r\n",
         .array([.bulk(ByteBuffer(string: "message")), .bulk(ByteBuffer(string: "ch")), .bulk(ByteBuffer(bytes: [0, 1, 2]))])),
    ]

    static var allWire: ByteBuffer { ByteBuffer(string: samples.map(\.wire).joined()) }

    private func readAll(_ reader: HiredisReplyReader) throws -> [RESPValue] {
        var values: [RESPValue] = []
        while let value = try reader.next() { values.append(value) }
        return values
    }

    @Test func readsEveryType() throws {
        for sample in Self.samples {
            let reader = HiredisReplyReader()
            try reader.feed(ByteBuffer(string: sample.wire))
            #expect(try reader.next() == sample.value, "\(sample.wire.debugDescription)")
            #expect(try reader.next() == nil)
        }
    }

    @Test func nullsAndAccessors() throws {
        #expect(RESPValue.bulk(nil).isNull && RESPValue.array(nil).isNull && !RESPValue.array([]).isNull)
        #expect(RESPValue.simpleString("OK").string == "OK")
        #expect(RESPValue.bulk(ByteBuffer(string: "12")).int == 12)
        #expect(RESPValue.integer(7).int == 7 && RESPValue.integer(7).string == nil)
        #expect(RESPValue.array([.integer(1)]).array == [.integer(1)] && RESPValue.array(nil).array == nil)
        #expect(RESPValue.error("ERR x").errorMessage == "ERR x")
    }

    @Test func manyRepliesInOneFeed() throws {
        let reader = HiredisReplyReader()
        try reader.feed(Self.allWire)
        #expect(try readAll(reader) == Self.samples.map(\.value))
    }

    @Test func repliesSplitAtEveryByteBoundary() throws {
        let wire = Self.allWire
        for split in 0...wire.readableBytes {
            let reader = HiredisReplyReader()
            var values: [RESPValue] = []
            try reader.feed(wire.getSlice(at: 0, length: split)!)
            values += try readAll(reader)
            try reader.feed(wire.getSlice(at: split, length: wire.readableBytes - split)!)
            values += try readAll(reader)
            #expect(values == Self.samples.map(\.value), "split at \(split)")
        }
    }

    @Test func repliesFedOneByteAtATime() throws {
        let reader = HiredisReplyReader()
        var values: [RESPValue] = []
        for byte in Self.allWire.readableBytesView {
            try reader.feed(ByteBuffer(bytes: [byte]))
            values += try readAll(reader)
        }
        #expect(values == Self.samples.map(\.value))
    }

    @Test(arguments: ["x\r\n", "%1\r\n", ":abc\r\n", "$abc\r\n", "$-5\r\n", "*-7\r\n", ":99999999999999999999\r\n",
                      "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"])
    func garbageIsAProtocolError(wire: String) throws {
        let reader = HiredisReplyReader()
        try reader.feed(ByteBuffer(string: wire))
        #expect {
            _ = try reader.next()
        } throws: { error in
            guard case .protocolError(let message) = error as? RedisConnectionError else { return false }
            return !message.isEmpty
        }
        // The reader stays failed.
        #expect(throws: RedisConnectionError.self) { try reader.feed(ByteBuffer(string: "+OK\r\n")) }
        #expect(throws: RedisConnectionError.self) { _ = try reader.next() }
    }

    @Test func hugeBulkIsRejectedBeforeItArrives() throws {
        let reader = HiredisReplyReader(maxReplyBytes: 1024)
        try reader.feed(ByteBuffer(string: "$100000000\r\n"))
        #expect(try reader.next() == nil)
        try reader.feed(ByteBuffer(repeating: UInt8(ascii: "x"), count: 1100))
        #expect(throws: RedisConnectionError.replyTooLarge(limit: 1024)) { _ = try reader.next() }
    }

    @Test func hugeArrayHeaderIsRejectedWithoutAllocating() throws {
        let reader = HiredisReplyReader(maxReplyBytes: 1 << 20)
        try reader.feed(ByteBuffer(string: "*2147483647\r\n"))
        #expect(throws: RedisConnectionError.replyTooLarge(limit: 1 << 20)) { _ = try reader.next() }
    }

    @Test func manyTinyElementsAreMeteredInMemory() throws {
        // 4 bytes per element on the wire, but ~70 bytes each as hiredis objects.
        let reader = HiredisReplyReader(maxReplyBytes: 16 * 1024)
        try reader.feed(ByteBuffer(string: "*1000\r\n" + String(repeating: ":1\r\n", count: 1000)))
        #expect(throws: RedisConnectionError.replyTooLarge(limit: 16 * 1024)) { _ = try reader.next() }
    }

    @Test func limitAppliesPerReply() throws {
        let reader = HiredisReplyReader(maxReplyBytes: 1024)
        let payload = String(repeating: "y", count: 800)
        let one = "$800\r\n\(payload)\r\n"
        try reader.feed(ByteBuffer(string: one + one + one + "$800\r\n" + payload.prefix(400)))
        #expect(try readAll(reader).count == 3)
        try reader.feed(ByteBuffer(string: payload.dropFirst(400) + "\r\n"))
        #expect(try reader.next()?.buffer?.readableBytes == 800)
    }
}
