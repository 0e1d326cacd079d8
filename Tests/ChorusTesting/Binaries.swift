import Testing
import Foundation

/// The repository root (this file is Tests/ChorusTesting/Binaries.swift).
public let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The executables the tests run.
public enum Binaries {
    /// `$CHORUS_NODE_BINARY`, or the `chorus-node` that SwiftPM built next to the test executable.
    public static func chorusNode() throws -> URL { try locate("chorus-node", variable: "CHORUS_NODE_BINARY") }

    /// `$CHORUS_BENCH_BINARY`, or the `chorus-bench` that SwiftPM built next to the test executable.
    public static func chorusBench() throws -> URL { try locate("chorus-bench", variable: "CHORUS_BENCH_BINARY") }

    /// `$variable` if set, else `name` in the directory of the running test executable or one
    /// of its parents (SwiftPM builds every product into the directory that holds the test
    /// bundle).
    public static func locate(_ name: String, variable: String) throws -> URL {
        if let path = ProcessInfo.processInfo.environment[variable], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        var candidates: [URL] = []
        #if os(Linux)
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: path))
        }
        #endif
        if let executable = Bundle.main.executableURL { candidates.append(executable.resolvingSymlinksInPath()) }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath())
        for executable in candidates {
            var directory = executable.deletingLastPathComponent()
            for _ in 0..<5 {
                let binary = directory.appendingPathComponent(name)
                if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
                directory = directory.deletingLastPathComponent()
            }
        }
        throw TestFailure("\(name) not found near the test executable (\(candidates.map(\.path))): run the tests with `swift build --build-tests` first or set \(variable)")
    }
}

/// The path of a program on PATH, or nil.
public func which(_ program: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(program)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// A fresh directory for one test's files.
public func makeTemporaryDirectory(_ prefix: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
