import ChorusTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// chorus-node as the node image runs it: not as root. The suite usually runs as root, where
/// a socket option that needs a capability (SO_DEBUG, set by mistake for TCP_NODELAY) just
/// works; without the capability every connection to Redis and from clients failed, and only
/// the first `docker-compose up` showed it. Here the node drops to `nobody` with setpriv.
@Suite("chorus-node without root")
struct UnprivilegedNodeTests {
    @Test("an unprivileged node connects to Redis and serves a client, the web page and /ready")
    func servesWithoutRoot() async throws {
        try await RedisServer.with { redis in
            let directory = try makeTemporaryDirectory("deploytests-unprivileged")
            defer { try? FileManager.default.removeItem(at: directory) }
            let ports = try freePorts(3)
            let (port, webPort, adminPort) = (ports[0], ports[1], ports[2])
            let node = try Binaries.chorusNode().path
            let arguments = ["--host", "127.0.0.1", "--port", String(port), "--http-port", String(webPort), "--admin-port", String(adminPort),
                             "--threads", "1", "--redis", redis.url]
            var environment = ProcessInfo.processInfo.environment
            for key in environment.keys where key.hasPrefix("CHORUS_") { environment[key] = nil }
            let child: ChildProcess
            if getuid() == 0 {
                let setpriv = try #require(which("setpriv"), "setpriv (util-linux) is needed to drop root")
                child = try ChildProcess(
                    executable: setpriv,
                    arguments: ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all", node] + arguments,
                    environment: environment, log: directory.appendingPathComponent("node.log"))
            } else {
                child = try ChildProcess(executable: node, arguments: arguments, environment: environment,
                                         log: directory.appendingPathComponent("node.log"))
            }
            try await withCleanup {
                _ = try await eventually(timeout: .seconds(30), every: .milliseconds(50)) { () -> Bool? in
                    guard child.isRunning else { throw TestFailure("chorus-node exited: \(child.log)") }
                    return child.log.contains("accepting connections on") && child.log.contains("serving web clients") ? true : nil
                }
                let status = try String(contentsOfFile: "/proc/\(child.pid)/status", encoding: .utf8)
                let uid = status.split(separator: "\n").first { $0.hasPrefix("Uid:") } ?? ""
                #expect(!uid.split(separator: "\t").dropFirst().contains("0"), "the node still runs as root: \(uid)")
                let alice = try TestClient.loggedIn(port: port, name: "alice")
                try alice.createRoom("Unprivileged")
                alice.close()
                let page = try HTTPProbe.request(port: webPort, "/")
                #expect(page.status == 200, "the web port answered: \(page.head)")
                let ready = try OperatorPort.get(adminPort, "/ready")
                #expect(ready.status == 200, "the operator port answered: \(ready.head)")
                #expect(!child.log.contains("Permission denied"), "\(child.log)")
            } cleanup: {
                await child.stop()
            }
        }
    }
}
