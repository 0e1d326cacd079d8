import Foundation

/// A validated login name: what others see (`display`, NFC-normalized) and the key that
/// makes names unique across the cluster (`key`: NFC, then lower-cased).
public struct UserName: Hashable, Sendable {
    public let display: String
    public let key: String

    /// Validates `raw` against the rules of PROTOCOL.md section 4 (Login).
    public static func validate(_ raw: String, maxLength: Int) -> Result<UserName, Reason> {
        let name = raw.precomposedStringWithCanonicalMapping
        if name.allSatisfy(\.isWhitespace) { return .failure(.nameRequired) }
        if name.count > maxLength { return .failure(.nameTooLong) }
        guard name.first != " ", name.last != " ",
              name.allSatisfy(Self.isAllowed) else { return .failure(.nameInvalid) }
        return .success(UserName(display: name, key: Self.key(for: name)))
    }

    /// The uniqueness key for a name as typed by someone else (e.g. a private message recipient).
    public static func key(for name: String) -> String {
        name.precomposedStringWithCanonicalMapping.lowercased()
    }

    /// Letters, decimal digits, `_`, `-`, `.` and the plain space.
    static func isAllowed(_ character: Character) -> Bool {
        if character == " " || character == "_" || character == "-" || character == "." { return true }
        let scalars = character.unicodeScalars
        guard let first = scalars.first else { return false }
        switch first.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber:
            break
        default:
            return false
        }
        // Combining marks may follow a letter (scripts that NFC cannot precompose).
        return scalars.dropFirst().allSatisfy {
            switch $0.properties.generalCategory {
            case .nonspacingMark, .spacingMark, .enclosingMark: return true
            default: return false
            }
        }
    }
}
