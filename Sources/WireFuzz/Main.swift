#if FUZZING
import CLibFuzzer
import Glibc

/// Built with `-sanitize=fuzzer -DFUZZING` (scripts/fuzz.sh): hands over to libFuzzer, which
/// takes libFuzzer's arguments and calls ``fuzzTestOneInput(_:_:)`` for every input.
@main
struct Main {
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzTestOneInput))
    }
}
#else
import Foundation

/// A plain build replays inputs instead: `chorus-wire-fuzz FILE_OR_DIRECTORY...` runs files
/// (e.g. the checked-in corpus, a reproducer) through the same checks, without sanitizers.
@main
struct Main {
    static func main() {
        let paths = CommandLine.arguments.dropFirst()
        guard !paths.isEmpty else {
            FileHandle.standardError.write(Data("usage: chorus-wire-fuzz FILE_OR_DIRECTORY...\n".utf8))
            exit(2)
        }
        var replayed = 0
        for path in paths {
            for file in inputFiles(at: path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("chorus-wire-fuzz: cannot read \(file)\n".utf8))
                    exit(1)
                }
                data.withUnsafeBytes { checkWireInput($0) }
                replayed += 1
            }
        }
        print("chorus-wire-fuzz: \(replayed) inputs replayed, no property broken")
    }

    /// `path` itself, or the regular files directly inside it if it is a directory, sorted.
    private static func inputFiles(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return [path]
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().map { "\(path)/\($0)" }.filter { file in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
    }
}
#endif
