import ChorusTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The files under deploy/, checked with the tools that read them (docker-compose, haproxy,
/// bash) and without a Docker engine; ComposeTests builds and runs them.
@Suite("deploy/ files")
struct DeployConfigTests {
    static let composeFile = repositoryRoot.appendingPathComponent("deploy/docker-compose.yml").path
    static let haproxyConfig = repositoryRoot.appendingPathComponent("deploy/haproxy.cfg").path
    static let healthcheck = repositoryRoot.appendingPathComponent("deploy/chorus-healthcheck").path
    static let dockerfile = repositoryRoot.appendingPathComponent("deploy/Dockerfile").path

    static func tool(_ name: String) throws -> String {
        try #require(which(name), "\(name) is not installed: run scripts/install-deps.sh")
    }

    /// Environment without the variables deploy/haproxy.cfg reads, plus `extra`.
    static func haproxyEnvironment(_ extra: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("NODE") || key.hasPrefix("HAPROXY_") {
            environment[key] = nil
        }
        return environment.merging(extra) { $1 }
    }

    /// The lines of one top-level service in `docker-compose config` output.
    static func serviceBlock(_ config: String, _ service: String) -> String {
        var lines: [Substring] = []
        var inside = false
        for line in config.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  "), !line.hasPrefix("   ") {
                inside = line == "  \(service):"
                continue
            }
            if !line.hasPrefix(" ") { inside = false }
            if inside { lines.append(line) }
        }
        return lines.joined(separator: "\n")
    }

    /// `docker-compose config` of the compose file with `variables` set (and every other
    /// CHORUS_* variable of this process unset).
    static func composeConfig(_ arguments: [String], _ variables: [String: String] = [:]) async throws -> String {
        let compose = try tool("docker-compose")
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("CHORUS_") || key.hasPrefix("COMPOSE_") { environment[key] = nil }
        let result = try await run(compose, ["-f", composeFile, "config"] + arguments, environment: environment.merging(variables) { $1 })
        #expect(result.status == 0, "\(result.output)")
        return result.output
    }

    @Test("docker-compose config: redis, node (3 replicas) and haproxy, built from deploy/ on debian:bookworm-slim, HAProxy alone published on 9875 and 8080")
    func composeConfig() async throws {
        let services = try await Self.composeConfig(["--services"])
        let names = Set(services.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        #expect(names == ["redis", "node", "haproxy", "prometheus", "grafana"])

        // The defaults: what a user with a registry gets.
        let config = try await Self.composeConfig([])
        let haproxy = Self.serviceBlock(config, "haproxy")
        #expect(haproxy.contains("dockerfile: deploy/haproxy.Dockerfile"))
        #expect(haproxy.contains("image: chorus-haproxy:local"))
        #expect(haproxy.contains("BASE_IMAGE: debian:bookworm-slim"))
        for port in [9875, 8080] {
            #expect(haproxy.contains("published: \(port)\n      target: \(port)"), "haproxy must publish \(port):\n\(haproxy)")
        }
        // HAProxy finds the nodes by DNS (the service name), so --scale needs no edit.
        #expect(haproxy.contains("NODES_FQDN: node"))
        #expect(!haproxy.contains("NODE1_ADDR"))
        #expect(haproxy.contains("HAPROXY_WEB_BIND: :8080"))
        #expect(haproxy.contains("node:\n        condition: service_healthy"))

        let node = Self.serviceBlock(config, "node")
        #expect(node.contains("dockerfile: deploy/Dockerfile"))
        #expect(node.contains("target: runtime"))
        #expect(node.contains("BASE_IMAGE: debian:bookworm-slim") && node.contains("SWIFT_IMAGE: swift:6.3-bookworm"))
        #expect(node.contains("image: chorus-node:local"))
        #expect(node.contains("replicas: 3"))
        #expect(node.contains("- --proxy-protocol"), "the nodes must expect HAProxy's PROXY header")
        #expect(node.contains("- redis://redis:6379"))
        #expect(node.contains("- --http-port\n    - '8080'"), "\(node)")
        #expect(!node.contains("--node-id"), "replicas of one service need names of their own (node.<random>)")
        #expect(node.contains("redis:\n        condition: service_healthy"))
        #expect(!node.contains("published:") && !node.contains("ports:"), "the nodes must not be reachable around HAProxy")
        #expect(!node.contains("ulimits:"), "an open-file limit above the engine's own stops every container from starting")
        #expect(node.contains("CHORUS_ADMIN_PORT: '8081'") || node.contains("CHORUS_ADMIN_PORT: \"8081\""),
                "the nodes serve /ready for HAProxy and the health check on 8081:\n\(node)")
        for service in ["prometheus", "grafana"] {
            let block = Self.serviceBlock(config, service)
            #expect(block.contains("profiles:\n    - monitoring"), "\(service) belongs to the monitoring profile:\n\(block)")
        }

        let redis = Self.serviceBlock(config, "redis")
        #expect(redis.contains("dockerfile: deploy/redis.Dockerfile"))
        #expect(redis.contains("image: chorus-redis:local"))
        #expect(!redis.contains("ports:"))

        // The variables the compose test (and an offline user) sets.
        let offline = try await Self.composeConfig([], [
            "CHORUS_BASE_IMAGE": "chorus-debian:bookworm", "CHORUS_NODE_TARGET": "prebuilt", "CHORUS_IMAGE_TAG": "test",
            "CHORUS_PUBLISH": "127.0.0.1:", "CHORUS_PUBLISH_WEB": "127.0.0.1:",
        ])
        #expect(Self.serviceBlock(offline, "node").contains("target: prebuilt"))
        for service in ["redis", "node", "haproxy"] {
            let block = Self.serviceBlock(offline, service)
            #expect(block.contains("BASE_IMAGE: chorus-debian:bookworm"), "\(service):\n\(block)")
            #expect(block.contains("image: chorus-\(service):test"))
        }
        let published = Self.serviceBlock(offline, "haproxy")
        #expect(published.contains("- 127.0.0.1::9875/tcp") && published.contains("- 127.0.0.1::8080/tcp"), "\(published)")
    }

    @Test("haproxy -c accepts haproxy.cfg with the compose and the script variables")
    func haproxyCheck() async throws {
        let haproxy = try Self.tool("haproxy")
        let settings: [[String: String]] = [
            // as docker-compose.yml and haproxy.Dockerfile set them (NODES_FQDN: the service
            // name, which resolves only inside compose's network)
            ["NODES_FQDN": "localhost", "NODES_MAX": "10", "HAPROXY_BIND": ":9875", "HAPROXY_WEB_BIND": ":8080",
             "HAPROXY_STATS_SOCKET": "/tmp/chorus-deploytests.sock"],
            // as cluster.sh sets them
            ["NODE1_ADDR": "127.0.0.1:20001", "NODE2_ADDR": "127.0.0.1:20002", "NODE3_ADDR": "127.0.0.1:20003",
             "NODE4_ADDR": "127.0.0.1:20004", "HAPROXY_BIND": "127.0.0.1:20000",
             "NODE1_WEB": "127.0.0.1:20011", "HAPROXY_WEB_BIND": "127.0.0.1:20010"],
            // a fixed list, no web port
            ["NODE1_ADDR": "127.0.0.1:9875", "NODE2_ADDR": "127.0.0.2:9875"],
        ]
        for extra in settings {
            let check = try await run(haproxy, ["-c", "-f", Self.haproxyConfig], environment: Self.haproxyEnvironment(extra))
            #expect(check.status == 0, "haproxy -c with \(extra):\n\(check.output)")
            #expect(check.output.contains("Configuration file is valid"))
        }
        // Without any node the file refuses to load, with a hint.
        let none = try await run(haproxy, ["-c", "-f", Self.haproxyConfig], environment: Self.haproxyEnvironment([:]))
        #expect(none.status != 0)
        #expect(none.output.contains("no Chorus nodes"))
    }

    @Test("haproxy.cfg: TCP, leastconn, long timeouts, PROXY protocol, redispatch, and checks of /ready on the admin port")
    func haproxyDirectives() throws {
        let text = try String(contentsOfFile: Self.haproxyConfig, encoding: .utf8)
        let lines = Set(text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        for directive in ["mode tcp", "balance leastconn", "timeout connect 5s", "timeout client 10m",
                          "timeout server 10m", "timeout tunnel 10m", "retries 3", "option redispatch 1",
                          "option httpchk", "http-check send meth GET uri /ready ver HTTP/1.1 hdr Host chorus-haproxy",
                          "http-check expect status 200"] {
            #expect(lines.contains(directive), "missing \"\(directive)\"")
        }
        let defaultServer = try #require(lines.first { $0.hasPrefix("default-server ") })
        let options = defaultServer.split(separator: " ")
        #expect(options.contains("send-proxy") && options.contains("check"))
        // The admin port speaks plain HTTP: no PROXY header on checks.
        #expect(!options.contains("check-send-proxy"))
        for k in 1...9 {
            #expect(lines.contains("server node\(k) \"${NODE\(k)_ADDR}\" port \"${NODE\(k)_ADMIN_PORT-8081}\""), "node\(k)'s checks")
        }
        #expect(lines.contains { $0.hasPrefix("server-template node ") && $0.hasSuffix("port \"${NODES_ADMIN_PORT-8081}\"") })
        #expect(lines.contains { $0.hasPrefix("log stdout") })
    }

    @Test("monitoring: Prometheus scrapes the nodes' admin ports; the Grafana dashboard shows the operator's panels over metrics a node exports")
    func monitoring() async throws {
        let prometheus = try String(contentsOf: repositoryRoot.appendingPathComponent("deploy/prometheus.yml"), encoding: .utf8)
        #expect(prometheus.contains("metrics_path: /metrics"))
        // The compose file's nodes are one scaled service: found through Docker's DNS.
        #expect(prometheus.contains(#"- names: ["node"]"#) && prometheus.contains("port: 8081"))
        let datasource = try String(contentsOf: repositoryRoot.appendingPathComponent("deploy/grafana/provisioning/datasources/prometheus.yml"), encoding: .utf8)
        #expect(datasource.contains("url: http://prometheus:9090"))

        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("deploy/grafana/dashboards/chorus.json"))
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        let titles = panels.compactMap { $0["title"] as? String }
        for wanted in ["Clients", "Rooms", "Messages per second", "Publish-to-delivery lag", "Errors by reason",
                       "Cluster round trip p99", "Hostile and slow clients"] {
            #expect(titles.contains(wanted), "no panel \(wanted): \(titles)")
        }
        let expressions = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(expressions.contains { $0.contains("histogram_quantile(0.99") && $0.contains("chorus_delivery_lag_seconds_bucket") })
        #expect(expressions.contains { $0.contains("histogram_quantile(0.5,") && $0.contains("chorus_delivery_lag_seconds_bucket") })

        // Every metric the dashboard queries is one a node exports.
        let node = try NodeProcess.start(["--admin-port", "0"])
        let scrape = try OperatorPort.get(try node.adminPort(), "/metrics")
        let exported = try PrometheusText(scrape.body)
        let regex = try NSRegularExpression(pattern: "chorus_[a-z_]+")
        for expression in expressions {
            for match in regex.matches(in: expression, range: NSRange(expression.startIndex..., in: expression)) {
                var name = String(expression[Range(match.range, in: expression)!])
                for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) && exported.types[name] == nil {
                    name = String(name.dropLast(suffix.count))
                }
                #expect(exported.types[name] != nil, "the dashboard queries \(name), which no node exports")
            }
        }
    }

    /// The instructions of a Dockerfile, comments and blank lines left out, continuation
    /// lines kept as they are.
    static func instructions(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    @Test("Dockerfile: runtime-base, prebuilt before the Swift stage (classic builder), runtime last; static Swift runtime, slim non-root runtime with a health check")
    func dockerfile() throws {
        let lines = try Self.instructions(Self.dockerfile)
        #expect(lines.contains("ARG SWIFT_IMAGE=swift:6.3-bookworm"))
        #expect(lines.contains("ARG BASE_IMAGE=debian:bookworm-slim"))
        // The classic builder (docker-compose 1.x) builds every stage before its target, and
        // the default target is the last stage: `prebuilt` must come before the Swift stage.
        #expect(lines.filter { $0.hasPrefix("FROM ") } == [
            "FROM ${BASE_IMAGE} AS runtime-base", "FROM runtime-base AS prebuilt",
            "FROM ${SWIFT_IMAGE} AS build", "FROM runtime-base AS runtime",
        ])
        let joined = lines.joined(separator: "\n")
        func stage(_ from: String) -> String {
            ((joined.components(separatedBy: from).last ?? "").components(separatedBy: "\nFROM ").first ?? "")
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let base = stage("FROM ${BASE_IMAGE} AS runtime-base")
        // Nothing beyond what the binary links (ldd: libhiredis, libstdc++), the ICU it loads
        // with dlopen (CSpoofChecker), and bash for the health check (already there).
        #expect(base.contains("install -y --no-install-recommends libhiredis0.14 libicu72 libstdc++6 \\"))
        #expect(base.contains("\nUSER chorus:chorus\n"))
        #expect(base.contains("\nENV CHORUS_ADMIN_PORT=8081\n"))
        #expect(base.contains("\nEXPOSE 9875 8080 8081\n"))
        #expect(base.contains("\nHEALTHCHECK ") && base.contains("CMD [\"chorus-healthcheck\", \"--ready\"]\n"))
        #expect(base.hasSuffix("ENTRYPOINT [\"chorus-node\"]"))
        // Both ways put the same two files on the runtime-base.
        #expect(stage("FROM runtime-base AS prebuilt") == "COPY deploy/chorus-healthcheck deploy/prebuilt/chorus-nod[e] /usr/local/bin/")
        #expect(stage("FROM runtime-base AS runtime") == "COPY deploy/chorus-healthcheck /usr/local/bin/\nCOPY --from=build /out/chorus-node /usr/local/bin/chorus-node")
        let build = stage("FROM ${SWIFT_IMAGE} AS build")
        #expect(build.contains("libhiredis-dev libicu-dev"))
        #expect(build.contains("RUN scripts/build-node-static.sh --output /out/chorus-node"))
    }

    @Test(".dockerignore lets in everything the Dockerfiles COPY, and not .build or .git", arguments: [
        "deploy/Dockerfile", "deploy/redis.Dockerfile", "deploy/haproxy.Dockerfile",
    ])
    func buildContext(_ dockerfile: String) throws {
        let ignore = try String(contentsOf: repositoryRoot.appendingPathComponent(".dockerignore"), encoding: .utf8)
        let lines = ignore.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty }
        #expect(lines.first == "*", ".dockerignore should be an allow-list")
        let allowed = lines.filter { $0.hasPrefix("!") }.map { String($0.dropFirst()) }
        #expect(!allowed.contains { $0.hasPrefix(".build") || $0.hasPrefix(".git") })
        let copies = try Self.instructions(repositoryRoot.appendingPathComponent(dockerfile).path)
            .filter { $0.hasPrefix("COPY ") && !$0.hasPrefix("COPY --from") }
        for copy in copies {
            let sources = copy.split(separator: " ").dropFirst().dropLast().map(String.init)
            for source in sources {
                // A source is in the context when an allowed path is it, holds it, or matches it.
                let inside = allowed.contains { entry in
                    entry == source || source.hasPrefix(entry + "/") || fnmatch(source, entry, 0) == 0
                }
                #expect(inside, "\(dockerfile): .dockerignore leaves \(source) out of the build context")
            }
        }
    }

    // MARK: deploy/chorus-healthcheck (the node image's HEALTHCHECK)

    func healthcheck(_ arguments: [String] = [], port: Int?, environment extra: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("CHORUS_") { environment[key] = nil }
        environment["CHORUS_HEALTHCHECK_TIMEOUT"] = "3"
        let address = port.map { ["127.0.0.1", String($0)] } ?? []
        return try await run(Self.healthcheck, arguments + address, environment: environment.merging(extra) { $1 }, timeout: .seconds(20))
    }

    func healthcheck(port: Int) async throws -> (status: Int32, output: String) {
        try await healthcheck(port: Optional(port))
    }

    @Test("chorus-healthcheck passes on a node with and without --proxy-protocol")
    func healthcheckHealthy() async throws {
        for arguments in [["--proxy-protocol"], []] {
            let node = try await SingleNode.start(arguments)
            let result = try await healthcheck(port: node.port)
            await node.stop()
            #expect(result.status == 0, "\(arguments): \(result.output)")
        }
    }

    @Test("chorus-healthcheck fails when nothing listens and when the node is full")
    func healthcheckUnhealthy() async throws {
        let nothing = try await healthcheck(port: try freePort())
        #expect(nothing.status == 1)
        #expect(nothing.output.contains("cannot connect"))

        let node = try await SingleNode.start(["--proxy-protocol", "--max-connections", "1"])
        let holder = try TestClient(port: node.port)
        try holder.send(text: "PROXY TCP4 192.0.2.9 127.0.0.1 1000 9875\r\n")
        let greeting = try holder.next(action: "ConnectionResponse")
        let full = try await healthcheck(port: node.port)
        holder.close()
        await node.stop()
        #expect(greeting.raw.contains("<Result>Accepted</Result>"))
        #expect(full.status == 1)
        #expect(full.output.contains("Server is full"))
    }

    @Test("chorus-healthcheck --ready: 200 from /ready on the operator port passes; a full node's 503 fails with its reason; no operator port falls back to the greeting")
    func healthcheckReady() async throws {
        let nothing = try await healthcheck(["--ready"], port: try freePort())
        #expect(nothing.status == 1 && nothing.output.contains("cannot connect to the operator port"), "\(nothing.output)")

        let node = try NodeProcess.start(["--admin-port", "0", "--max-connections", "1"])
        let admin = try node.adminPort()
        let ready = try await healthcheck(["--ready"], port: admin)
        #expect(ready.status == 0, "\(ready.output)")
        // The port from CHORUS_ADMIN_PORT, as in the image.
        let fromVariable = try await healthcheck(["--ready"], port: nil, environment: ["CHORUS_ADMIN_PORT": String(admin)])
        #expect(fromVariable.status == 0, "\(fromVariable.output)")
        // Without an operator port: the greeting on the client port.
        let greeting = try await healthcheck(["--ready"], port: nil, environment: ["CHORUS_ADMIN_PORT": "0", "CHORUS_PORT": String(node.port)])
        #expect(greeting.status == 0, "\(greeting.output)")

        let holder = try TestClient.accepted(port: node.port, name: "holder")
        let full = try await eventually(timeout: .seconds(10), every: .milliseconds(100)) { () -> (status: Int32, output: String)? in
            let result = try await healthcheck(["--ready"], port: admin)
            return result.status == 0 ? nil : result
        }
        holder.close()
        #expect(full.status == 1)
        #expect(full.output.contains("503") && full.output.contains("full"), "\(full.output)")
    }
}
