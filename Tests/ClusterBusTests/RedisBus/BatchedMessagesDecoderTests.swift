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

    @Test func anythingMalformedIsRefusedWhole() {
        for bad in ["T17:40:2\u{1F}2:ab", "T17:40:1\u{1F}9:ab", "T17:40\u{1F}2:ab", "T1x:40:1\u{1F}2:ab", "S17:40\u{1F}Mab",
                    "T17:40:1\u{1F}:ab", "T17:40:0\u{1F}", "T17:40:1\u{1F}2:abc", "T17:40:1"] {
            #expect(Self.decode(bad) == nil, "\(bad)")
        }
    }
}
