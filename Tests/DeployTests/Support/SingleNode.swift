import ChorusTesting
import Foundation
import Testing

/// One chorus-node (debug build, in-process bus) on a free loopback port.
final class SingleNode: Sendable {
    let child: ChildProcess
    let port: Int
    let directory: URL

    private init(child: ChildProcess, port: Int, directory: URL) {
        self.child = child
        self.port = port
        self.directory = directory
    }

    static func start(_ arguments: [String]) async throws -> SingleNode {
        let directory = try makeTemporaryDirectory("deploytests-node")
        let port = try freePort()
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("CHORUS_") { environment[key] = nil }
        let child = try ChildProcess(
            executable: try Binaries.chorusNode().path,
            arguments: ["--host", "127.0.0.1", "--port", String(port), "--threads", "1"] + arguments,
            environment: environment,
            log: directory.appendingPathComponent("node.log"))
        let node = SingleNode(child: child, port: port, directory: directory)
        do {
            // Ready once it logs that it accepts connections (a probe connection would
            // count against the per-address limit).
            _ = try await eventually(timeout: .seconds(30), every: .milliseconds(50)) { () -> Bool? in
                guard child.isRunning else { throw TestFailure("chorus-node exited: \(child.log)") }
                return child.log.contains("accepting connections on") ? true : nil
            }
        } catch {
            await node.stop()
            throw error
        }
        return node
    }

    func stop() async {
        await child.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}
