import CSpoofChecker

/// ICU's spoof checker (UTS #39), opened and configured once per process (see CSpoofChecker).
///
/// ICU documents checking as thread-safe: the functions that take a `const USpoofChecker *`
/// (`uspoof_check2UTF8`, `uspoof_getSkeletonUTF8`) may be called concurrently on one instance.
/// The checker is configured before it is published through `shared` (a Swift global,
/// initialized once) and never changed or closed afterwards, hence `@unchecked Sendable`
/// and no lock on the login path.
struct SpoofChecker: @unchecked Sendable {
    /// What ICU found wrong with an identifier.
    struct Findings: Equatable {
        /// Letters of scripts that Unicode's "highly restrictive" level does not let mix (Latin
        /// mixes only with Han + Hiragana + Katakana, Han + Bopomofo or Han + Hangul), or
        /// digits of more than one numbering system.
        var mixesScripts: Bool
        /// Marks that do not show: the same non-spacing mark twice on one letter, or a dot
        /// above on a letter that already has one (`i` + U+0307).
        var hidesMarks: Bool
    }

    /// The process's checker, or why ICU could not give one (then no name is accepted).
    static let opened: Result<SpoofChecker, SpoofCheckerUnavailable> = {
        var error = [CChar](repeating: 0, count: 512)
        guard let checker = chorus_spoof_open(&error, Int32(error.count)) else {
            let reason = error.withUnsafeBytes { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            return .failure(SpoofCheckerUnavailable(reason: reason))
        }
        return .success(SpoofChecker(checker))
    }()

    /// The process's checker; nil when ICU could not open one (then no name is accepted).
    static var shared: SpoofChecker? { try? opened.get() }

    private let checker: OpaquePointer

    private init(_ checker: OpaquePointer) {
        self.checker = checker
    }

    /// The major version of the ICU library in use (the one CSpoofChecker was compiled for).
    var icuMajorVersion: Int { Int(chorus_spoof_loaded_icu_major_version(checker)) }

    /// ICU's verdict on `text`; nil when ICU reports an error (callers refuse the text).
    func check(_ text: String) -> Findings? {
        guard !text.isEmpty else { return Findings(mixesScripts: false, hidesMarks: false) }
        let flags = Self.withUTF8(text) { chorus_spoof_check(checker, $0, $1) } ?? -1
        guard flags >= 0 else { return nil }
        return Findings(mixesScripts: flags & CHORUS_SPOOF_MIXES_SCRIPTS != 0,
                        hidesMarks: flags & CHORUS_SPOOF_HIDES_MARKS != 0)
    }

    /// The confusable skeleton of `text` (UTS #39 section 4; NFD): two strings that look alike
    /// have the same skeleton. Nil when ICU reports an error.
    func skeleton(of text: String) -> String? {
        guard !text.isEmpty else { return "" }
        return Self.withUTF8(text) { bytes, length -> String? in
            // Most skeletons are about as long as the text; one retry with the exact size otherwise.
            var capacity = Int(length) + 16
            for _ in 0..<2 {
                var output = [CChar](repeating: 0, count: capacity)
                let needed = Int(chorus_spoof_skeleton(checker, bytes, length, &output, Int32(capacity)))
                if needed < 0 { return nil }
                if needed > capacity {
                    capacity = needed
                    continue
                }
                return output.withUnsafeBytes { String(decoding: $0.prefix(needed), as: UTF8.self) }
            }
            return nil
        } ?? nil
    }

    /// Calls `body` with the UTF-8 bytes of `text` and their count; nil when the text is too
    /// long for ICU's 32-bit lengths (callers refuse it).
    private static func withUTF8<T>(_ text: String, _ body: (UnsafePointer<CChar>, Int32) -> T) -> T? {
        var text = text
        return text.withUTF8 { bytes -> T? in
            // Leaves ICU room to expand the text (NFD, skeleton) within 32-bit lengths.
            guard let base = bytes.baseAddress, bytes.count <= Int(Int32.max) / 64 else { return nil }
            return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) { body($0, Int32(bytes.count)) }
        }
    }
}
