import ChatDomain
import CSpoofChecker
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Debian's ICU (the spoof checker) and the ICU inside Swift's Foundation live in one process
/// without clashing: Debian's is loaded with dlopen(RTLD_LOCAL), so none of its symbols is
/// seen by Foundation's ICU (both export UCaseMap's constructor), and Foundation keeps working.
@Suite struct SpoofCheckerLinkTests {
    /// Opens a checker of its own through the C interface (the process's one is private).
    func openChecker() throws -> OpaquePointer {
        var error = [CChar](repeating: 0, count: 512)
        let checker = chorus_spoof_open(&error, Int32(error.count))
        let reason = error.withUnsafeBytes { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return try #require(checker, "\(reason)")
    }

    @Test func theLoadedICUIsTheOneCompiledFor() throws {
        let checker = try openChecker()
        #expect(chorus_spoof_icu_major_version() >= 60)
        #expect(chorus_spoof_loaded_icu_major_version(checker) == chorus_spoof_icu_major_version())
    }

    #if os(Linux)
    @Test func debianICUIsLoadedButOutOfTheGlobalScope() throws {
        _ = try openChecker()
        _ = UserName.key(for: "alice")
        let major = chorus_spoof_icu_major_version()
        // Mapped into the process...
        let maps = try String(contentsOfFile: "/proc/self/maps", encoding: .utf8)
        #expect(maps.contains("libicui18n.so.\(major)"))
        #expect(maps.contains("libicuuc.so.\(major)"))
        // ...but invisible to symbol lookups of other libraries (RTLD_DEFAULT is the global scope).
        #expect(dlsym(nil, "uspoof_open_\(major)") == nil)
        #expect(dlsym(nil, "u_getVersion_\(major)") == nil)
        // The one C++ symbol both ICUs export: whoever provides it globally, it is not Debian's.
        if let constructor = dlsym(nil, "_ZN8UCaseMapC1EPKcjP10UErrorCode") {
            let address = UInt(bitPattern: constructor)
            let debian = maps.split(separator: "\n").filter { $0.contains("/libicuuc.so.\(major)") }.compactMap { line in
                let bounds = line.prefix { $0 != " " }.split(separator: "-").compactMap { UInt($0, radix: 16) }
                return bounds.count == 2 ? bounds[0]..<bounds[1] : nil
            }
            #expect(!debian.isEmpty)
            #expect(!debian.contains { $0.contains(address) })
        }
    }
    #endif

    @Test func foundationCaseMappingStillWorksNextToTheChecker() throws {
        _ = try openChecker()
        #expect(UserName.key(for: "\u{0430}lice") == UserName.key(for: "alice"))
        // Foundation's own ICU: locale-sensitive case maps (ucasemap) and case folding.
        #expect("istanbul".uppercased(with: Locale(identifier: "tr_TR")) == "\u{130}STANBUL")
        #expect("hello world".capitalized(with: Locale(identifier: "en_US")) == "Hello World")
        #expect("\u{39F}\u{394}\u{39F}\u{3A3}".folding(options: .caseInsensitive, locale: nil) == "\u{3BF}\u{3B4}\u{3BF}\u{3C3}")
    }
}
