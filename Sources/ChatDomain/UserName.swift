import Foundation

/// A validated login name: what others see (`display`, NFC-normalized) and the key that
/// makes names unique across the cluster (`key`: look-alikes and case folded together).
public struct UserName: Hashable, Sendable {
    public let display: String
    public let key: String
    /// The name mixes scripts beyond Unicode's "highly restrictive" level (UTS #39: Latin
    /// mixes only with Han + Hiragana + Katakana, Han + Bopomofo or Han + Hangul), or digits
    /// of more than one numbering system, like `аlice` with a Cyrillic а. `validate` accepts
    /// such a name so that the node can answer as PROTOCOL.md section 4 says: the node must
    /// never log it in, and answers `Name is already in use` when someone online has its
    /// `key`, `Name contains invalid characters` otherwise.
    public let mixesScripts: Bool

    /// Validates `raw` against the rules of PROTOCOL.md section 4 (Login). At most `maxLength`
    /// characters and 4 × `maxLength` Unicode scalars; the UTF-8 size is bounded first, so an
    /// oversized name costs nothing.
    public static func validate(_ raw: String, maxLength: Int) -> Result<UserName, Reason> {
        let (maxScalars, scalarsOverflow) = max(maxLength, 0).multipliedReportingOverflow(by: 4)
        let maxScalarCount = scalarsOverflow ? Int.max : maxScalars
        // A scalar is at most 4 bytes in UTF-8 (O(1) for a native string).
        let (maxBytes, bytesOverflow) = maxScalarCount.multipliedReportingOverflow(by: 4)
        if !bytesOverflow, raw.utf8.count > maxBytes { return .failure(.nameTooLong) }

        let name = raw.precomposedStringWithCanonicalMapping
        if name.allSatisfy(\.isWhitespace) { return .failure(.nameRequired) }
        if name.unicodeScalars.count > maxScalarCount || name.count > maxLength { return .failure(.nameTooLong) }
        guard name.first != " ", name.last != " ", name.allSatisfy(Self.isAllowed),
              !name.unicodeScalars.contains(where: Self.isInvisible) else { return .failure(.nameInvalid) }

        // ICU errors refuse the name: hostile input never logs in by breaking the checker.
        guard let checker = SpoofChecker.shared, let findings = checker.check(name), !findings.hidesMarks,
              let key = skeletonKey(name, checker: checker) else { return .failure(.nameInvalid) }
        return .success(UserName(display: name, key: key, mixesScripts: findings.mixesScripts))
    }

    /// The uniqueness key for a name as typed by someone else (e.g. a private message
    /// recipient), the same as `validate` gives the name: NFC, Unicode case folding (so `ΟΔΟΣ`
    /// and `οδος` are one name), then the confusable skeleton of UTS #39 (so `аlice` with a
    /// Cyrillic а, `ａｌｉｃｅ`, `𝐚𝐥𝐢𝐜𝐞` and `alıce` are `alice`), case-folded and NFC again.
    public static func key(for name: String) -> String {
        let normalized = name.precomposedStringWithCanonicalMapping
        if let checker = SpoofChecker.shared, let key = skeletonKey(normalized, checker: checker) { return key }
        // Without ICU no name logs in (`validate` refuses them all): case folding is enough.
        return caseFolded(normalized)
    }

    /// Nil when ICU's spoof checker works; otherwise why not (e.g. `libicu72` is missing), in
    /// which case `validate` refuses every name: for the node to say at start-up.
    public static var lookAlikeCheckFailure: String? {
        if case .failure(let problem) = SpoofChecker.opened { return problem.reason }
        return nil
    }

    /// NFC(fold(skeleton(NFKC(fold(name))))) for an NFC `name`. Folding comes first because
    /// the skeleton is case-sensitive (it maps `I` to `l`, so `ALICE` would not be `alice`),
    /// and again last because the skeleton maps some letters and digits to capitals (`0` to
    /// `O`). NFKC turns compatibility forms (fullwidth, mathematical letters) into their
    /// letters before the skeleton: ICU maps `ｍ` to `m` but not on to `rn`, the skeleton of
    /// `m`, so without it `ｍｏｄ` would not be `mod`.
    static func skeletonKey(_ name: String, checker: SpoofChecker) -> String? {
        checker.skeleton(of: caseFolded(name).precomposedStringWithCompatibilityMapping).map(caseFolded)
    }

    static func caseFolded(_ text: String) -> String {
        text.folding(options: .caseInsensitive, locale: nil).precomposedStringWithCanonicalMapping
    }

    /// Letters, decimal digits, `_`, `-`, `.` and the plain space. A character may carry
    /// combining marks (scripts such as Devanagari build one character from several letters
    /// and vowel signs), but never start with one; enclosing marks (which make emoji such as
    /// keycaps) are refused.
    static func isAllowed(_ character: Character) -> Bool {
        if character == " " || character == "_" || character == "-" || character == "." { return true }
        var first = true
        for scalar in character.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber:
                break
            case .nonspacingMark, .spacingMark:
                if first { return false }
            default:
                return false
            }
            first = false
        }
        return !first
    }

    /// Code points that display as nothing (Unicode's Default_Ignorable_Code_Point): joiners,
    /// the combining grapheme joiner, variation selectors, fillers such as U+3164.
    static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isDefaultIgnorableCodePoint
    }
}
