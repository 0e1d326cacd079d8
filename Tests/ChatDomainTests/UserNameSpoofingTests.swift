import ChatDomain
import Testing

/// PROTOCOL.md section 4, Login: names that cannot impersonate (issue 8). Invisible code
/// points are refused, and floods of combining marks are too long.
@Suite struct UserNameSpoofingTests {
    let max = ChatLimits().maxNameLength

    // MARK: Invisible code points are refused

    @Test("default-ignorable and invisible code points are invalid", arguments: [
        "alice\u{034F}",  // combining grapheme joiner
        "alice\u{180B}",  // Mongolian free variation selector one
        "alice\u{17B4}",  // Khmer vowel inherent aq
        "alice\u{3164}", "\u{3164}alice",  // Hangul filler
        "alice\u{115F}", "alice\u{1160}", "alice\u{FFA0}",  // other Hangul fillers
        "al\u{200B}ice", "al\u{200C}ice", "al\u{200D}ice", "al\u{2060}ice", "alice\u{FEFF}",
        "alice\u{FE00}", "alice\u{E0100}",  // variation selectors
    ])
    func invisibleCodePoints(_ raw: String) {
        #expect(UserName.validate(raw, maxLength: max) == .failure(.nameInvalid))
    }

    @Test("names made only of fillers are invalid, not blank", arguments: [
        "\u{3164}", "\u{3164}\u{3164}\u{3164}", "\u{115F}\u{1160}", "\u{FFA0}",
    ])
    func fillerOnlyNames(_ raw: String) {
        #expect(UserName.validate(raw, maxLength: max) == .failure(.nameInvalid))
    }

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
