import ChorusTesting
import Foundation
import Testing

/// The files under deploy/, checked with the tools that read them (docker-compose, haproxy,
/// bash), since no Docker engine is needed for that.
@Suite("deploy/ files")
struct DeployConfigTests {
    static let composeFile = repositoryRoot.appendingPathComponent("deploy/docker-compose.yml").path
    static let haproxyConfig = repositoryRoot.appendingPathComponent("deploy/haproxy.cfg").path
    static let healthcheck = repositoryRoot.appendingPathComponent("deploy/healthcheck.sh").path
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

    @Test("docker-compose config accepts the compose file: redis, node1..3, haproxy on 9875")
    func composeConfig() async throws {
        let compose = try Self.tool("docker-compose")
        let services = try await run(compose, ["-f", Self.composeFile, "config", "--services"])
        #expect(services.status == 0, "\(services.output)")
        let names = Set(services.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        #expect(names == ["redis", "node1", "node2", "node3", "haproxy", "prometheus", "grafana"])

        let config = try await run(compose, ["-f", Self.composeFile, "config"])
        #expect(config.status == 0, "\(config.output)")
        let haproxy = Self.serviceBlock(config.output, "haproxy")
        #expect(haproxy.contains("image: haproxy:2.8"))
        #expect(haproxy.contains("published: 9875") && haproxy.contains("target: 9875"), "haproxy must publish 9875:\n\(haproxy)")
        #expect(haproxy.contains("deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"))
        for k in 1...3 {
            #expect(haproxy.contains("NODE\(k)_ADDR: node\(k):9875"))
            #expect(haproxy.contains("node\(k):\n        condition: service_healthy"))
            let node = Self.serviceBlock(config.output, "node\(k)")
            #expect(node.contains("dockerfile: deploy/Dockerfile"))
            #expect(node.contains("- --proxy-protocol"), "node\(k) must expect HAProxy's PROXY header")
            #expect(node.contains("- redis://redis:6379"))
            #expect(node.contains("- node\(k)\n"), "node\(k) should be named node\(k)")
            #expect(node.contains("redis:\n        condition: service_healthy"))
            #expect(node.contains("- chorus-healthcheck"))
            #expect(!node.contains("published:"), "node\(k) must not be reachable around HAProxy")
            #expect(node.contains("CHORUS_ADMIN_PORT: '8081'") || node.contains("CHORUS_ADMIN_PORT: \"8081\""),
                    "node\(k) serves /ready for HAProxy on 8081:\n\(node)")
        }
        for service in ["prometheus", "grafana"] {
            let block = Self.serviceBlock(config.output, service)
            #expect(block.contains("profiles:\n    - monitoring"), "\(service) belongs to the monitoring profile:\n\(block)")
        }
        let redis = Self.serviceBlock(config.output, "redis")
        #expect(redis.contains("image: redis:7"))
        #expect(redis.contains("- redis-cli") && redis.contains("- ping"))
    }

    @Test("haproxy -c accepts haproxy.cfg with the compose and the script variables")
    func haproxyCheck() async throws {
        let haproxy = try Self.tool("haproxy")
        let settings: [[String: String]] = [
            // as docker-compose.yml sets them
            ["NODE1_ADDR": "127.0.0.1:9875", "NODE2_ADDR": "127.0.0.2:9875", "NODE3_ADDR": "127.0.0.3:9875",
             "HAPROXY_BIND": ":9875", "HAPROXY_STATS_SOCKET": "/tmp/chorus-deploytests.sock"],
            // as cluster.sh sets them
            ["NODE1_ADDR": "127.0.0.1:20001", "NODE2_ADDR": "127.0.0.1:20002", "NODE3_ADDR": "127.0.0.1:20003",
             "NODE4_ADDR": "127.0.0.1:20004", "HAPROXY_BIND": "127.0.0.1:20000"],
            // the DNS variant for `--scale`
            ["NODES_FQDN": "localhost", "NODES_MAX": "5"],
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
        #expect(prometheus.contains(#"targets: ["node1:8081", "node2:8081", "node3:8081"]"#))
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

    @Test("Dockerfile: multi-stage, static Swift runtime, slim non-root runtime with a health check")
    func dockerfile() throws {
        let text = try String(contentsOfFile: Self.dockerfile, encoding: .utf8)
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.hasPrefix("#") }
        let froms = lines.filter { $0.hasPrefix("FROM ") }
        #expect(froms.count == 2)
        #expect(lines.contains("ARG SWIFT_IMAGE=swift:6.3-bookworm"))
        #expect(lines.contains("ARG RUNTIME_IMAGE=debian:bookworm-slim"))
        #expect(froms.first == "FROM ${SWIFT_IMAGE} AS build")
        #expect(froms.last == "FROM ${RUNTIME_IMAGE}")
        let joined = lines.joined(separator: "\n")
        #expect(joined.contains("swift build -c release --product chorus-node --static-swift-stdlib"))
        #expect(joined.contains("libhiredis-dev libicu-dev"))
        #expect(joined.contains("libhiredis0.14"))
        #expect(lines.contains("USER chorus:chorus"))
        #expect(lines.contains("EXPOSE 9875"))
        #expect(lines.contains { $0.hasPrefix("HEALTHCHECK ") && $0.hasSuffix("CMD [\"chorus-healthcheck\"]") })
        #expect(lines.last == "ENTRYPOINT [\"chorus-node\"]")
        // The runtime stage installs nothing beyond what the binary links (see ldd in the
        // report), the ICU it loads with dlopen (CSpoofChecker) and what the health check
        // needs (bash, already in the image).
        let runtime = joined.components(separatedBy: "FROM ${RUNTIME_IMAGE}").last ?? ""
        #expect(runtime.contains("install -y --no-install-recommends libhiredis0.14 libicu72 libstdc++6 \\"))

        // The build context (.dockerignore is an allow-list) holds everything COPY takes.
        let ignore = try String(contentsOf: repositoryRoot.appendingPathComponent(".dockerignore"), encoding: .utf8)
        let allowed = Set(ignore.split(separator: "\n").filter { $0.hasPrefix("!") }.map { String($0.dropFirst()) })
        let copies = lines.filter { $0.hasPrefix("COPY ") && !$0.hasPrefix("COPY --from") }
        for source in ["Package.swift", "Package.resolved", "Sources", "Tests", "deploy/healthcheck.sh"] {
            #expect(copies.contains { $0.split(separator: " ").contains { $0.hasPrefix(source) } }, "the Dockerfile does not COPY \(source)")
            #expect(allowed.contains(source), ".dockerignore leaves \(source) out of the build context")
        }
    }

    // MARK: deploy/healthcheck.sh (the image's HEALTHCHECK)

    func healthcheck(port: Int) async throws -> (status: Int32, output: String) {
        var environment = ProcessInfo.processInfo.environment
        environment["CHORUS_HEALTHCHECK_TIMEOUT"] = "3"
        return try await run(Self.healthcheck, ["127.0.0.1", String(port)], environment: environment, timeout: .seconds(20))
    }

    @Test("healthcheck.sh passes on a node with and without --proxy-protocol")
    func healthcheckHealthy() async throws {
        for arguments in [["--proxy-protocol"], []] {
            let node = try await SingleNode.start(arguments)
            let result = try await healthcheck(port: node.port)
            await node.stop()
            #expect(result.status == 0, "\(arguments): \(result.output)")
        }
    }

    @Test("healthcheck.sh fails when nothing listens and when the node is full")
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
}
