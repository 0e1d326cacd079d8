import ChatDomain
import Testing

/// PROTOCOL.md section 4, Login: name rules and the uniqueness key.
@Suite struct UserNameTests {
    let max = ChatLimits().maxNameLength

    // MARK: Name is required

    @Test("empty or whitespace-only names are required", arguments: ["", " ", "   ", "\t", "\u{3000}"])
    func blankNameIsRequired(_ raw: String) {
        #expect(UserName.validate(raw, maxLength: max) == .failure(.nameRequired))
    }

    // MARK: Name is too long

    @Test func defaultMaximumIsTwentyCharacters() {
        #expect(max == 20)
        #expect(refusal(UserName.validate(.repeating("a", 20), maxLength: max)) == nil)
        #expect(UserName.validate(.repeating("a", 21), maxLength: max) == .failure(.nameTooLong))
    }

    @Test("length counts characters, not bytes or scalars",
          arguments: ["\u{E9}", "e\u{301}", "\u{4E2D}", "\u{0416}"])
    func lengthCountsCharacters(_ piece: String) throws {
        let twenty = try UserName.validate(.repeating(piece, 20), maxLength: max).get()
        #expect(twenty.display.count == 20)
        #expect(UserName.validate(.repeating(piece, 21), maxLength: max) == .failure(.nameTooLong))
    }

    @Test func configuredMaximumIsHonoured() {
        #expect(refusal(UserName.validate("abcde", maxLength: 5)) == nil)
        #expect(UserName.validate("abcdef", maxLength: 5) == .failure(.nameTooLong))
    }

    // MARK: Name contains invalid characters

    @Test("invalid characters and edge spaces are refused", arguments: [
        " bob", "bob ", "  bob  ", "b<b", "<script>", "bob@example.com", "bo\tb", "bob\n",
        "bob\u{0}", "bob\u{1F600}", "\u{1F600}", "a\u{200D}b", "\u{A0}bob", "bob!", "a/b", "a&b",
        "x\"y", "it's", "a\u{2028}b", "#1",
    ])
    func invalidCharacters(_ raw: String) {
        #expect(UserName.validate(raw, maxLength: max) == .failure(.nameInvalid))
    }

    @Test("letters of any script, digits, _ - . and inner spaces are accepted", arguments: [
        "bob", "Bob_42", "a-b.c", "Mary Jane", "a  b", "007", "_", ".", "-",
        "Zo\u{EB}", "\u{0410}\u{043B}\u{0438}\u{0441}\u{0430}", "\u{5C71}\u{7530}\u{592A}\u{90CE}",
        "\u{0645}\u{062D}\u{0645}\u{062F}", "\u{0395}\u{03BB}\u{03AD}\u{03BD}\u{03B7}",
        "\u{0BA4}\u{0BAE}\u{0BBF}\u{0BB4}\u{0BCD}", "\u{0E2A}\u{0E27}\u{0E31}\u{0E2A}\u{0E14}\u{0E35}",
        "\u{05E9}\u{05B8}\u{05C1}\u{05DC}\u{05D5}\u{05B9}\u{05DD}", "\u{D55C}\u{AD6D}\u{C5B4}",
        "\u{0661}\u{0662}\u{0663}",
    ])
    func acceptedNames(_ raw: String) throws {
        let name = try UserName.validate(raw, maxLength: max).get()
        #expect(name.display == raw)
    }

    @Test func lengthIsCheckedBeforeCharacters() {
        #expect(UserName.validate(.repeating("<", 21), maxLength: max) == .failure(.nameTooLong))
    }

    /// Regression: a Devanagari conjunct (consonant + virama + consonant, e.g. "स्ते" in नमस्ते) is one
    /// grapheme cluster since Unicode 15.1 (rule GB9c), so `isAllowed` sees a letter followed by
    /// a letter inside one Character and refuses the name, although it holds only letters and marks.
    @Test("Devanagari names with conjuncts are letters", arguments: [
        "\u{0928}\u{092E}\u{0938}\u{094D}\u{0924}\u{0947}",  // नमस्ते
        "\u{0932}\u{0915}\u{094D}\u{0937}\u{094D}\u{092E}\u{0940}",  // लक्ष्मी
    ])
    func devanagariConjuncts(_ raw: String) {
        #expect(refusal(UserName.validate(raw, maxLength: max)) == nil)
    }

    /// Regression: the keycap emoji "1️⃣" (digit + VS16 + combining enclosing keycap) passes as a digit
    /// with marks, so an emoji name is accepted.
    @Test func keycapEmojiIsRefused() {
        #expect(UserName.validate("1\u{FE0F}\u{20E3}", maxLength: max) == .failure(.nameInvalid))
    }

    // MARK: Normalization and uniqueness key

    @Test func displayIsNFC() throws {
        let name = try UserName.validate("Ze\u{301}lie", maxLength: max).get()
        #expect(scalars(name.display) == scalars("Z\u{E9}lie"))
        #expect(scalars(name.key) == scalars("z\u{E9}lie"))
    }

    @Test func displayKeepsCase() throws {
        let name = try UserName.validate("BoB", maxLength: max).get()
        #expect(name.display == "BoB")
        #expect(name.key == "bob")
    }

    @Test("keys ignore case and composition", arguments: [
        ("BOB", "bob"), ("Bob", "bOB"), ("e\u{301}ric", "\u{E9}ric"), ("\u{C9}RIC", "e\u{301}ric"),
        ("Zo\u{EB}", "ZOE\u{308}"), ("\u{0416}\u{0435}\u{043D}\u{044F}", "\u{0436}\u{0415}\u{041D}\u{042F}"),
    ])
    func sameKey(_ pair: (String, String)) throws {
        let a = try UserName.validate(pair.0, maxLength: max).get()
        let b = try UserName.validate(pair.1, maxLength: max).get()
        #expect(scalars(a.key) == scalars(b.key))
        #expect(scalars(UserName.key(for: pair.1)) == scalars(a.key))
    }

    @Test("different names have different keys", arguments: [
        ("bob", "bob2"), ("bob", "bo b"), ("Bob", "B\u{F3}b"), ("ann", "anne"),
    ])
    func differentKeys(_ pair: (String, String)) throws {
        let a = try UserName.validate(pair.0, maxLength: max).get()
        let b = try UserName.validate(pair.1, maxLength: max).get()
        #expect(a.key != b.key)
    }

    @Test func keyForUntypedInputNormalizes() {
        // A private-message recipient typed decomposed and upper-case finds the same key.
        #expect(scalars(UserName.key(for: "E\u{301}RIC")) == scalars("\u{E9}ric"))
    }

    /// Regression: `key` once lower-cased instead of case-folding. Swift maps capital sigma Σ to σ without
    /// context, so "ΟΔΟΣ" keys to "οδοσ" while its own lower-case spelling "οδος" (final ς)
    /// keys to "οδος": two logins that differ only in case are both accepted.
    @Test func greekFinalSigmaIsCaseInsensitive() throws {
        let upper = try UserName.validate("\u{039F}\u{0394}\u{039F}\u{03A3}", maxLength: max).get()  // ΟΔΟΣ
        let lower = try UserName.validate("\u{03BF}\u{03B4}\u{03BF}\u{03C2}", maxLength: max).get()  // οδος
        #expect(upper.key == lower.key)
    }
}
