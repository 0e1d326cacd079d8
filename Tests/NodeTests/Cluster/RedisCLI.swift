import ChorusTesting
import Foundation
import Testing

// What `NodeCluster` and `FaultCluster` share: `redis-cli` against their redis-server, and
// the id a node logs when it starts.

/// `redis-cli` next to `$REDIS_SERVER`, else on PATH.
func redisCLIPath() -> String {
    if let server = ProcessInfo.processInfo.environment["REDIS_SERVER"], !server.isEmpty {
        let sibling = URL(fileURLWithPath: server).deletingLastPathComponent().appendingPathComponent("redis-cli").path
        if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
    }
    return which("redis-cli") ?? "/usr/bin/redis-cli"
}

/// Runs `redis-cli -h 127.0.0.1 -p PORT --raw ARGS...` and returns its output lines.
func runRedisCLI(port: Int, _ arguments: [String]) throws -> [String] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: redisCLIPath())
    process.arguments = ["-h", "127.0.0.1", "-p", "\(port)", "--raw"] + arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw TestFailure("redis-cli \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
    }
    return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
}

/// The node's id in Redis (`nN.<random suffix>`), read from its start-up log line
/// `Chorus node ID accepting connections on ...`; `number` is for the failure message.
func loggedNodeID(_ node: NodeProcess, number: Int) throws -> String {
    let output = node.output
    guard let range = output.range(of: #"Chorus node (\S+) accepting connections"#, options: .regularExpression) else {
        throw TestFailure("node \(number) did not log its id:\n\(node.logTail())")
    }
    return String(output[range].split(separator: " ")[2])
}
