import ChatDomain

/// The refusal of a result, or nil when it succeeded (for results whose success value
/// is not Equatable, like tuples or Void).
func refusal<T>(_ result: Result<T, Reason>) -> Reason? {
    if case .failure(let reason) = result { return reason }
    return nil
}

/// The Unicode scalars of a string: Swift's `==` compares canonically equivalent strings as
/// equal, so NFC normalization is only visible at the scalar level.
func scalars(_ text: String) -> [Unicode.Scalar] { Array(text.unicodeScalars) }

extension String {
    static func repeating(_ piece: String, _ count: Int) -> String { String(repeating: piece, count: count) }
}
