import NIOCore
import Testing
import Wire

@Suite struct XMLLimitsTests {
    @Test func defaultsAreThoseOfTheProtocol() {
        let limits = XMLLimits()
        #expect(limits.maxDepth == 32)
        #expect(limits.maxAttributes == 32)
        #expect(limits.maxNameBytes == 128)
        #expect(limits.maxValueBytes == 65536)
        #expect(XMLLimits(maxDepth: 5) == XMLLimits(maxDepth: 5, maxAttributes: 32, maxNameBytes: 128, maxValueBytes: 65536))
    }

    @Test func defaultFrameLimitIs64KiB() {
        #expect(FrameDecoder().maxFrameBytes == 65536)
    }
}
