import ChorusTesting
import Foundation
import Testing

/// deploy/docker-compose.yml, the file users run, under a project name of its own, with the
/// variables the file reads set for this machine: the Debian base scripts/base-image.sh gives,
/// the `prebuilt` node target (deploy/prebuilt/chorus-node), images tagged `test`, and
/// HAProxy's ports published on free loopback ports.
final class ComposeProject: Sendable {
    static let file = repositoryRoot.appendingPathComponent("deploy/docker-compose.yml").path
    static let prebuiltNode = repositoryRoot.appendingPathComponent("deploy/prebuilt/chorus-node").path

    let engine: DockerEngine
    let name: String
    let environment: [String: String]

    init(engine: DockerEngine, baseImage: String) {
        self.engine = engine
        name = "chorustest\(UUID().uuidString.prefix(8).lowercased())"
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("CHORUS_") || key.hasPrefix("COMPOSE_") { environment[key] = nil }
        environment["CHORUS_BASE_IMAGE"] = baseImage
        environment["CHORUS_NODE_TARGET"] = "prebuilt"
        environment["CHORUS_IMAGE_TAG"] = "test"
        environment["CHORUS_PUBLISH"] = "127.0.0.1:"
        environment["CHORUS_PUBLISH_WEB"] = "127.0.0.1:"
        self.environment = environment
    }

    /// The Debian base image for this machine (scripts/base-image.sh: present, pulled, or made
    /// with debootstrap and kept in the engine).
    static func baseImage() async throws -> String {
        let script = repositoryRoot.appendingPathComponent("scripts/base-image.sh").path
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-base-image-\(UUID().uuidString.prefix(8)).err")
        defer { try? FileManager.default.removeItem(at: log) }
        let child = try ChildProcess(executable: script, arguments: [], log: log.appendingPathExtension("out"), errors: log)
        defer { try? FileManager.default.removeItem(at: log.appendingPathExtension("out")) }
        guard let status = await child.waitForExit(timeout: .seconds(600)) else {
            await child.stop()
            throw TestFailure("scripts/base-image.sh did not finish within 10 minutes: \(child.errorLog)")
        }
        let image = child.log.trimmingCharacters(in: .whitespacesAndNewlines)
        guard status == 0, !image.isEmpty else {
            throw TestFailure("scripts/base-image.sh failed (\(status)): \(child.errorLog)")
        }
        return image
    }

    /// Runs compose with `-p name -f deploy/docker-compose.yml` and `arguments`.
    func compose(_ arguments: [String], timeout: Duration = .seconds(120)) async throws -> (status: Int32, output: String) {
        let command = engine.compose
        return try await run(command[0], Array(command.dropFirst()) + ["-p", name, "-f", Self.file] + arguments,
                             environment: environment, timeout: timeout)
    }

    /// Compose, which must succeed; returns its output, trimmed.
    @discardableResult
    func composeOK(_ arguments: [String], timeout: Duration = .seconds(120)) async throws -> String {
        let result = try await compose(arguments, timeout: timeout)
        guard result.status == 0 else {
            throw TestFailure("compose \(arguments.joined(separator: " ")) failed (\(result.status)):\n\(result.output)")
        }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The host port a service's container port is published on.
    func publishedPort(_ service: String, _ port: Int) async throws -> Int {
        let output = try await composeOK(["port", service, String(port)])
        guard let line = output.split(separator: "\n").last, let colon = line.lastIndex(of: ":"),
              let published = Int(line[line.index(after: colon)...]) else {
            throw TestFailure("compose port \(service) \(port) printed no port: \(output)")
        }
        return published
    }

    /// The ids of a service's containers.
    func containers(_ service: String) async throws -> [String] {
        try await composeOK(["ps", "-q", service]).split(separator: "\n").map(String.init)
    }

    /// Output of `command` in the first container of `service`.
    func exec(_ service: String, _ command: [String]) async throws -> String {
        let container = try #require(try await containers(service).first, "no \(service) container")
        return try await engine.dockerOK(["exec", container] + command)
    }

    /// HAProxy's `show servers state`: per backend, the addresses of the servers that are UP
    /// (srv_op_state 2, SRV_ST_RUNNING).
    func serversUp() async throws -> [String: [String]] {
        let state = try await exec("haproxy", ["sh", "-c", "echo 'show servers state' | socat stdio \"$HAPROXY_STATS_SOCKET\""])
        var up: [String: [String]] = [:]
        for line in state.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: " ")
            if fields.count > 5, fields[5] == "2" { up[String(fields[1]), default: []].append(String(fields[4])) }
        }
        return up
    }

    /// The node id (`node.<hex>`) of each node container, from the line each node logs when
    /// it starts accepting connections.
    func nodeIDs() async throws -> [String: String] {
        var ids: [String: String] = [:]
        for container in try await containers("node") {
            let log = try await engine.docker(["logs", container])
            guard let range = log.output.range(of: #"Chorus node (\S+) accepting connections"#, options: .regularExpression) else { continue }
            let id = log.output[range].split(separator: " ")[2]
            ids[String(id)] = container
        }
        return ids
    }

    /// The node whose session holds `user`, from Redis (docs/cluster.md: `names` maps name keys
    /// to session ids `<node>/<n>`; `s:<session>` holds the session's profile).
    func nodeOfUser(_ user: String) async throws -> String? {
        let script = """
        for s in $(redis-cli --raw HVALS chorus:names); do
          printf '%s %s\\n' "$s" "$(redis-cli --raw HGET "chorus:s:$s" profile | tr '\\n' ' ')"
        done
        """
        for line in try await exec("redis", ["sh", "-c", script]).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let slash = parts[0].firstIndex(of: "/") else { continue }
            // The profile is the name, as given at login, then fields after U+001F.
            if parts[1].hasPrefix(user + "\u{1F}") { return String(parts[0][..<slash]) }
        }
        return nil
    }

    /// The last lines of every service's log, for failure messages.
    func logs() async -> String {
        (try? await compose(["logs", "--no-color", "--tail", "40"]))?.output ?? "(no logs)"
    }

    /// `down -v`, then what is left of the project: containers, networks, volumes.
    func down() async -> (output: String, leftovers: [String]) {
        let output = (try? await compose(["down", "-v", "--remove-orphans", "--timeout", "20"], timeout: .seconds(180)))?.output ?? "(compose down did not run)"
        var leftovers: [String] = []
        let label = "label=com.docker.compose.project=\(name)"
        for (kind, arguments) in [("container", ["ps", "-a", "-q", "--filter", label]),
                                  ("network", ["network", "ls", "-q", "--filter", label]),
                                  ("volume", ["volume", "ls", "-q", "--filter", label])] {
            let listed = (try? await engine.docker(arguments))?.output ?? ""
            leftovers += listed.split(separator: "\n").map { "\(kind) \($0)" }
        }
        return (output, leftovers)
    }
}
