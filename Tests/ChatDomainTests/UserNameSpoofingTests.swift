import ChorusTesting
import ChatDomain
import Testing

/// PROTOCOL.md section 4, Login: names that cannot impersonate (issue 8). Look-alikes share
/// one key (UTS #39 confusable skeleton), invisible code points are refused, names mixing
/// scripts are flagged for the node, and floods of combining marks are too long.
@Suite struct UserNameSpoofingTests {
    let max = ChatLimits().maxNameLength

    func key(_ raw: String) throws -> String {
        try UserName.validate(raw, maxLength: max).get().key
    }

    @Test func spoofCheckerIsAvailable() {
        #expect(UserName.lookAlikeCheckFailure == nil)
    }

    // MARK: Look-alikes share the key of the original

    @Test("look-alikes of alice have alice's key", arguments: [
        "Alice", "ALICE", "aLiCe",
        "\u{0430}lice",  // Cyrillic а
        "\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}",  // fullwidth ａｌｉｃｅ
        "\u{1D41A}\u{1D425}\u{1D422}\u{1D41C}\u{1D41E}",  // mathematical bold 𝐚𝐥𝐢𝐜𝐞
        "al\u{0131}ce",  // dotless ı
        "\u{FF21}\u{FF2C}\u{FF29}\u{FF23}\u{FF25}",  // fullwidth capitals ＡＬＩＣＥ
    ])
    func lookAlikesOfAlice(_ raw: String) throws {
        let alice = try key("alice")
        #expect(scalars(try key(raw)) == scalars(alice))
        #expect(scalars(UserName.key(for: raw)) == scalars(alice))
    }

    @Test("look-alikes across scripts share a key", arguments: [
        ("bob", "b\u{03BF}b"),  // Greek ο
        ("paypal", "p\u{0430}yp\u{0430}l"),  // Cyrillic а
        ("bob1", "bobl"),  // 1 and l
        ("BOB0", "BOBO"),  // 0 and O
        ("rn", "m"),
        // Compatibility forms of letters that are look-alikes themselves (m is rn, d is cl):
        // ICU's skeleton maps ｍ to m but not on to rn, so they must be folded first.
        ("mod", "\u{FF4D}\u{FF4F}\u{FF44}"),  // fullwidth ｍｏｄ
        ("mod", "mo\u{FF44}"),
        ("mod", "\u{FF4D}od"),
        ("dim", "\u{1D41D}\u{1D422}\u{1D426}"),  // mathematical bold 𝐝𝐢𝐦
    ])
    func lookAlikePairs(_ pair: (String, String)) throws {
        #expect(scalars(try key(pair.0)) == scalars(try key(pair.1)))
    }

    @Test func keyForFindsTheUserByALookAlike() throws {
        // A private message to "ＡＬＩＣＥ" reaches the user logged in as "Alice".
        let alice = try UserName.validate("Alice", maxLength: max).get()
        #expect(UserName.key(for: "\u{FF21}\u{FF2C}\u{FF29}\u{FF23}\u{FF25}") == alice.key)
    }

    @Test func greekSigmasStillFoldTogether() throws {
        let forms = ["\u{039F}\u{0394}\u{039F}\u{03A3}", "\u{03BF}\u{03B4}\u{03BF}\u{03C2}", "\u{03BF}\u{03B4}\u{03BF}\u{03C3}"]
        let keys = try Set(forms.map { try key($0) })
        #expect(keys.count == 1)
    }

    // MARK: Invisible code points are refused

    @Test("default-ignorable and invisible code points are invalid", arguments: [
        "alice\u{034F}",  // combining grapheme joiner
        "alice\u{180B}",  // Mongolian free variation selector one
        "alice\u{17B4}",  // Khmer vowel inherent aq
        "alice\u{3164}", "\u{3164}alice",  // Hangul filler
        "alice\u{115F}", "alice\u{1160}", "alice\u{FFA0}",  // other Hangul fillers
        "al\u{200B}ice", "al\u{200C}ice", "al\u{200D}ice", "al\u{2060}ice", "alice\u{FEFF}",
        "alice\u{FE00}", "alice\u{E0100}",  // variation selectors
        "a\u{301}\u{301}lice",  // the same mark twice shows once
        "ali\u{307}ce", "al\u{131}\u{307}ce",  // a dot above hidden by a dotted letter
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

    // MARK: Scripts

    @Test("names mixing scripts are flagged", arguments: [
        "\u{0430}lice", "b\u{03BF}b", "alice\u{0430}", "\u{03A9}mega",
        "bob\u{0661}",  // Arabic-Indic digit one after Latin
        "1\u{0661}",  // digits of two numbering systems
        "\u{5C71}\u{7530}\u{30BF}\u{AE40}",  // Katakana with Hangul
        "\u{0418}\u{0432}\u{0430}\u{043D}\u{738B}",  // Cyrillic with Han
        "Taro\u{0915}",  // Latin with Devanagari
    ])
    func mixedScripts(_ raw: String) throws {
        let name = try UserName.validate(raw, maxLength: max).get()
        #expect(name.mixesScripts)
    }

    @Test("scripts that mix as Japanese, Chinese or Korean do, with Latin", arguments: [
        "\u{5C71}\u{7530}\u{30BF}\u{30ED}\u{30A6}",  // 山田タロウ
        "\u{5C71}\u{7530}\u{305F}\u{308D}\u{3046}",  // 山田たろう
        "\u{30BF}\u{30ED}\u{30FC}",  // タロー (prolonged sound mark)
        "\u{5C71}\u{7530}Taro", "Taro \u{5C71}\u{7530}",
        "\u{738B}\u{5C0F}\u{660E}", "\u{738B}Wang", "\u{738B}\u{3105}\u{3106}",  // 王小明, 王Wang, Han + Bopomofo
        "\u{AE40}\u{CCA0}\u{C218}", "\u{AE40}Kim", "\u{91D1}\u{CCA0}\u{C218}",  // 김철수, 김Kim, 金철수
        "alice", "Mary Jane", "Bob_42", "007",
    ])
    func allowedScriptMixes(_ raw: String) throws {
        let name = try UserName.validate(raw, maxLength: max).get()
        #expect(!name.mixesScripts)
    }

    @Test("single-script names of any script are not flagged", arguments: [
        "\u{0410}\u{043B}\u{0438}\u{0441}\u{0430}", "\u{0395}\u{03BB}\u{03AD}\u{03BD}\u{03B7}",
        "\u{0645}\u{062D}\u{0645}\u{062F}", "\u{0BA4}\u{0BAE}\u{0BBF}\u{0BB4}\u{0BCD}",
        "\u{0E2A}\u{0E27}\u{0E31}\u{0E2A}\u{0E14}\u{0E35}", "\u{05E9}\u{05B8}\u{05C1}\u{05DC}\u{05D5}\u{05B9}\u{05DD}",
        "\u{0661}\u{0662}\u{0663}", "Zo\u{EB}",
    ])
    func singleScript(_ raw: String) throws {
        #expect(!(try UserName.validate(raw, maxLength: max).get().mixesScripts))
    }

    @Test("Devanagari names with vowel signs and conjuncts are accepted", arguments: [
        "\u{0928}\u{092E}\u{0938}\u{094D}\u{0924}\u{0947}",  // नमस्ते
        "\u{0932}\u{0915}\u{094D}\u{0937}\u{094D}\u{092E}\u{0940}",  // लक्ष्मी
        "\u{092A}\u{094D}\u{0930}\u{093F}\u{092F}\u{093E}",  // प्रिया
        "\u{0915}\u{0943}\u{0937}\u{094D}\u{0923}",  // कृष्ण
        "\u{0905}\u{0902}\u{0915}\u{093F}\u{0924}",  // अंकित
    ])
    func devanagari(_ raw: String) throws {
        let name = try UserName.validate(raw, maxLength: max).get()
        #expect(name.display == raw)
        #expect(!name.mixesScripts)
    }

    @Test func aMixedScriptNameStillHasTheKeyOfItsLookAlike() throws {
        // The node answers "Name is already in use" when alice is online, from this key.
        let spoof = try UserName.validate("\u{0430}lice", maxLength: max).get()
        #expect(spoof.mixesScripts)
        #expect(spoof.key == (try key("alice")))
        #expect(spoof.display == "\u{0430}lice")
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
        #expect(try UserName.validate("alice", maxLength: .max).get().key == (try key("alice")))
        #expect(UserName.validate("alice", maxLength: 0) == .failure(.nameTooLong))
    }

    @Test func keyForHugeOrOddInputNeverCrashes() {
        _ = UserName.key(for: String(repeating: "\u{FDFD}", count: 20_000))  // each expands in the skeleton
        _ = UserName.key(for: "a" + String(repeating: "\u{301}", count: 30_000))
        #expect(UserName.key(for: "") == "")
        #expect(UserName.key(for: "\u{0}<&>") == UserName.key(for: "\u{0}<&>"))
    }

    // MARK: Hostile input

    /// Random strings of scalars from many blocks: validation never crashes, and an accepted
    /// name's key is the key others find it by.
    @Test func randomNamesAreHandled() {
        var random = SplitMix64(seed: 0x5EED)
        let blocks: [ClosedRange<UInt32>] = [
            0x20...0x7E, 0x300...0x36F, 0x370...0x3FF, 0x400...0x4FF, 0x600...0x6FF, 0x900...0x97F,
            0x1100...0x11FF, 0x1D00...0x1DBF, 0x2000...0x206F, 0x3040...0x30FF, 0x3130...0x318F,
            0x4E00...0x4E80, 0xAC00...0xAD00, 0xFE00...0xFE0F, 0xFF00...0xFFEF, 0x1D400...0x1D7FF,
            0xE0000...0xE01EF,
        ]
        for _ in 0..<2_000 {
            var text = ""
            for _ in 0..<Int(random.next() % 12) + 1 {
                let block = blocks[Int(random.next() % UInt64(blocks.count))]
                let value = block.lowerBound + UInt32(random.next() % UInt64(block.count))
                if let scalar = Unicode.Scalar(value) { text.unicodeScalars.append(scalar) }
            }
            if case .success(let name) = UserName.validate(text, maxLength: max) {
                #expect(UserName.key(for: name.display) == name.key, "\(Array(text.unicodeScalars))")
                #expect(UserName.key(for: text) == name.key, "\(Array(text.unicodeScalars))")
            }
        }
    }

    @Test func concurrentChecksAgreeWithSerialOnes() async throws {
        let names = ["alice", "\u{0430}lice", "\u{5C71}\u{7530}\u{30BF}\u{30ED}\u{30A6}", "b\u{03BF}b",
                     "\u{0928}\u{092E}\u{0938}\u{094D}\u{0924}\u{0947}", "alice\u{034F}", "\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}"]
        let limit = max
        let serial = names.map { UserName.validate($0, maxLength: limit) }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for round in 0..<64 {
                group.addTask {
                    (0..<50).allSatisfy { i in
                        let index = (round + i) % names.count
                        return UserName.validate(names[index], maxLength: limit) == serial[index]
                    }
                }
            }
            for try await agreed in group { #expect(agreed) }
        }
    }
}
