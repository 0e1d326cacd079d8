import ChatDomain
import Testing

@Suite struct ChatLimitsTests {
    @Test func defaultsAreThoseOfThePROTOCOL() {
        let limits = ChatLimits()
        #expect(limits.maxNameLength == 20)
        #expect(limits.maxRoomNameLength == 32)
        #expect(limits.maxMessageLength == 4096)
        #expect(limits.floodRate == 10)
        #expect(limits.floodBurst == 20)
        #expect(limits.accounts.isEmpty)
    }
}
