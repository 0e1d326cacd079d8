import Foundation

/// A validated login name: what others see (`display`, NFC-normalized) and the key that
/// makes names unique across the cluster (`key`: NFC, then lower-cased).
public struct UserName: Hashable, Sendable {
    public let display: String
    public let key: String

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
        return .success(UserName(display: name, key: Self.key(for: name)))
    }

    /// The uniqueness key for a name as typed by someone else (e.g. a private message
    /// recipient): NFC, then Unicode case folding (so `ΟΔΟΣ` and `οδος` are one name).
    public static func key(for name: String) -> String {
        name.precomposedStringWithCanonicalMapping.folding(options: .caseInsensitive, locale: nil)
            .precomposedStringWithCanonicalMapping
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
