@testable import ClusterBus
import NIOCore
import Testing

/// The pub/sub form of a batch of public messages (`RedisScripts.publish`).
struct BatchedMessagesDecoderTests {
    static func decode(_ text: String) -> [String]? {
        var out: [String] = []
        let valid = RedisEventDecoder.forEachBatchedMessage(ByteBuffer(string: text)) { incarnation, sequence, frame in
            out.append("\(incarnation)/\(sequence):\(String(buffer: frame))")
        }
        return valid ? out : nil
    }

    @Test func aBatchGivesEachMessageItsNumberInOrder() {
        #expect(Self.decode("T17:40:3\u{1F}2:ab0:5:x:y:z") == ["17/40:ab", "17/41:", "17/42:x:y:z"])
    }

    @Test func theFourthHeaderNumberIsThePublishTime() {
        var published: PublishStamp?
        var frames: [String] = []
        let valid = RedisEventDecoder.forEachBatchedMessage(ByteBuffer(string: "T17:40:2:1700000000123456\u{1F}2:ab1:c"),
                                                            published: &published) { _, _, frame in
            frames.append(String(buffer: frame))
        }
        #expect(valid)
        #expect(frames == ["ab", "c"])
        #expect(published == PublishStamp(microseconds: 1_700_000_000_123_456))
        // Without it (a batch from before the stamp): the same messages, no time.
        published = nil
        #expect(RedisEventDecoder.forEachBatchedMessage(ByteBuffer(string: "T17:40:1\u{1F}2:ab"), published: &published) { _, _, _ in })
        #expect(published == nil)
        #expect(Self.decode("T17:40:1:99:1\u{1F}2:ab") == nil, "five header numbers")
        #expect(Self.decode("T17:40:1:\u{1F}2:ab") == nil, "an empty publish time")
    }

    @Test func aPublishStampMeasuresForwardOnly() {
        let earlier = PublishStamp(microseconds: 1_000)
        #expect(earlier.nanoseconds(until: PublishStamp(microseconds: 3_500)) == 2_500_000)
        #expect(PublishStamp(microseconds: 3_500).nanoseconds(until: earlier) == 0, "clocks apart: no negative lag")
        #expect(PublishStamp.now().microseconds > 1_700_000_000_000_000)
    }

    @Test func anythingMalformedIsRefusedWhole() {
        for bad in ["T17:40:2\u{1F}2:ab", "T17:40:1\u{1F}9:ab", "T17:40\u{1F}2:ab", "T1x:40:1\u{1F}2:ab", "S17:40\u{1F}Mab",
                    "T17:40:1\u{1F}:ab", "T17:40:0\u{1F}", "T17:40:1\u{1F}2:abc", "T17:40:1"] {
            #expect(Self.decode(bad) == nil, "\(bad)")
        }
    }
}
