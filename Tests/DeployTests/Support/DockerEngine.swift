import ChorusTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A Docker engine for the compose test: the one that answers `docker info`, or a `dockerd`
/// this test starts and, at ``stop()``, stops again by its PID. Installs `docker.io` (and
/// `docker-compose`) with scripts/install-deps.sh when they are missing.
final class DockerEngine: Sendable {
    /// The docker CLI.
    let docker: String
    /// How to run Compose: `docker-compose` (v1, Debian's), else the `docker compose` plugin.
    let compose: [String]
    /// The dockerd this test started, if it did.
    let daemon: ChildProcess?
    let daemonLog: URL?

    private init(docker: String, compose: [String], daemon: ChildProcess?, daemonLog: URL?) {
        self.docker = docker
        self.compose = compose
        self.daemon = daemon
        self.daemonLog = daemonLog
    }

    /// An engine that answers, or a failure whose message is one line saying why there is none.
    static func start() async throws -> DockerEngine {
        let pluginWorks = await composePluginWorks()
        if which("docker") == nil || (which("docker-compose") == nil && !pluginWorks) {
            try await installDeps(["docker.io", "docker-compose"])
        }
        guard let docker = which("docker") else {
            throw TestFailure("compose test: no docker CLI after installing docker.io; set CHORUS_SKIP_COMPOSE=1 to skip this test")
        }
        let compose: [String]
        if let v1 = which("docker-compose") {
            compose = [v1]
        } else if await composePluginWorks() {
            compose = [docker, "compose"]
        } else {
            throw TestFailure("compose test: neither docker-compose nor `docker compose` works after installing docker-compose; set CHORUS_SKIP_COMPOSE=1 to skip this test")
        }
        if await answers(docker) {
            return DockerEngine(docker: docker, compose: compose, daemon: nil, daemonLog: nil)
        }

        // No engine: start one, as root can.
        guard getuid() == 0 else {
            throw TestFailure("compose test: no Docker engine answers `docker info` and starting dockerd needs root: start Docker, or set CHORUS_SKIP_COMPOSE=1 to skip this test")
        }
        if which("dockerd") == nil { try await installDeps(["docker.io"]) }
        guard let dockerd = which("dockerd") else {
            throw TestFailure("compose test: no dockerd after installing docker.io; set CHORUS_SKIP_COMPOSE=1 to skip this test")
        }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-dockerd-\(UUID().uuidString.prefix(8)).log")
        let daemon = try ChildProcess(executable: dockerd, arguments: [], log: log)
        let engine = DockerEngine(docker: docker, compose: compose, daemon: daemon, daemonLog: log)
        let up = await eventually(timeout: .seconds(60), every: .milliseconds(250)) {
            daemon.isRunning ? await answers(docker) : true
        }
        if !up || !daemon.isRunning {
            let last = daemon.log.split(separator: "\n").last { !$0.isEmpty }.map(String.init) ?? "(no output)"
            let exit = daemon.terminationStatus.map { "exited with status \($0)" } ?? "did not answer within 60 s"
            await engine.stop()
            throw TestFailure("compose test: no Docker engine can run here: dockerd \(exit): \(last.prefix(300)); set CHORUS_SKIP_COMPOSE=1 to skip this test")
        }
        return engine
    }

    /// Stops the dockerd this test started (SIGTERM, then SIGKILL after 30 s) and waits for
    /// it; an engine that was already running is left alone.
    func stop() async {
        guard let daemon else { return }
        await daemon.stop(grace: .seconds(30))
        if let daemonLog { try? FileManager.default.removeItem(at: daemonLog) }
    }

    /// Runs the docker CLI to completion.
    func docker(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> (status: Int32, output: String) {
        try await run(docker, arguments, timeout: timeout)
    }

    /// `docker …`, which must succeed; returns its output, trimmed.
    @discardableResult
    func dockerOK(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> String {
        let result = try await docker(arguments, timeout: timeout)
        guard result.status == 0 else {
            throw TestFailure("docker \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.output)")
        }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func answers(_ docker: String) async -> Bool {
        (try? await run(docker, ["info", "--format", "{{.ServerVersion}}"], timeout: .seconds(20)))?.status == 0
    }

    private static func composePluginWorks() async -> Bool {
        guard let docker = which("docker") else { return false }
        return (try? await run(docker, ["compose", "version"], timeout: .seconds(20)))?.status == 0
    }

    private static func installDeps(_ packages: [String]) async throws {
        let script = repositoryRoot.appendingPathComponent("scripts/install-deps.sh").path
        let result = try await run(script, packages, timeout: .seconds(600))
        guard result.status == 0 else {
            let last = result.output.split(separator: "\n").last.map(String.init) ?? ""
            throw TestFailure("compose test: installing \(packages.joined(separator: " ")) failed: \(last); set CHORUS_SKIP_COMPOSE=1 to skip this test")
        }
    }
}
