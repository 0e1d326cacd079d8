import ChatDomain
import Testing

/// PROTOCOL.md section 4, Login: names that cannot impersonate (issue 8). Floods of
/// combining marks are too long.
@Suite struct UserNameSpoofingTests {
    let max = ChatLimits().maxNameLength

    // MARK: Length in scalars and bytes

    @Test func combiningMarkFloodIsTooLong() {
        let flood = "a" + String(repeating: "\u{301}", count: 14_000)  // one character, 28,001 bytes
        #expect(flood.count == 1)
        #expect(UserName.validate(flood, maxLength: max) == .failure(.nameTooLong))
        #expect(UserName.validate("a" + String(repeating: "\u{301}", count: 100), maxLength: max) == .failure(.nameTooLong))
    }

    @Test func scalarsAreBoundedToFourPerCharacter() throws {
        let piece = "x\u{301}\u{302}\u{303}"  // 4 scalars that NFC does not compose
        let eighty = String(repeating: piece, count: 20)
        #expect(eighty.unicodeScalars.count == 80)
        #expect(refusal(UserName.validate(eighty, maxLength: max)) == nil)
        let eightyOne = String(repeating: piece, count: 19) + piece + "\u{304}"
        #expect(eightyOne.count == 20)
        #expect(UserName.validate(eightyOne, maxLength: max) == .failure(.nameTooLong))
    }

    @Test func scalarsAreCountedAfterNFC() throws {
        // 20 Hangul syllables typed as 60 jamo, and 20 é typed as e + accent: NFC composes them.
        let hangul = String(repeating: "\u{1100}\u{1161}\u{11A8}", count: 20)
        #expect(try UserName.validate(hangul, maxLength: max).get().display == String(repeating: "\u{AC01}", count: 20))
        #expect(refusal(UserName.validate(String(repeating: "e\u{301}", count: 20), maxLength: max)) == nil)
    }

    @Test("huge names are too long", arguments: [60_000, 321, 100_000])
    func hugeNames(_ bytes: Int) {
        #expect(UserName.validate(String(repeating: "a", count: bytes), maxLength: max) == .failure(.nameTooLong))
        #expect(UserName.validate(String(repeating: "\u{3164}", count: bytes / 3), maxLength: max) == .failure(.nameTooLong))
    }

    @Test func hugeMaximumsDoNotOverflow() throws {
        #expect(try UserName.validate("alice", maxLength: .max).get().key == UserName.key(for: "alice"))
        #expect(UserName.validate("alice", maxLength: 0) == .failure(.nameTooLong))
    }
}
