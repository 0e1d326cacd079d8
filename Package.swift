// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "chorus",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "chorus-node", targets: ["chorus-node"]),
        .executable(name: "chorus-bench", targets: ["Bench"]),
        .executable(name: "chorus-wire-fuzz", targets: ["WireFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.1.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // Zero-byte framing, the strict XML reader/writer and the typed protocol messages.
        .target(
            name: "Wire",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // Users, names, rooms, zones, rules and the session state machine. Pure logic
        // (ICU's spoof checker tells look-alike names apart).
        .target(name: "ChatDomain", dependencies: ["CSpoofChecker"]),
        // ICU's spoof checker (UTS #39: confusable skeletons, restriction levels) from Debian's
        // ICU (libicu-dev to build, libicu72 at run time), behind plain C types. ICU is loaded
        // with dlopen, not linked: see the header for why (Foundation's own ICU).
        .target(name: "CSpoofChecker", linkerSettings: [.linkedLibrary("dl")]),
        // hiredis (Debian's libhiredis-dev) as a system library.
        .systemLibrary(
            name: "CHiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // A Redis client on SwiftNIO: pipelined command connection, subscriber connection,
        // hiredis's reply reader and argv formatter, and a link that reconnects both.
        .target(
            name: "RedisClient",
            dependencies: [
                "CHiredis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // What makes nodes one cluster: the in-process bus and the Redis bus.
        .target(
            name: "ClusterBus",
            dependencies: [
                "ChatDomain",
                "RedisClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The node as a library: sessions, fan-out, listeners (TCP, web), wired by `ChorusNode`.
        .target(
            name: "Node",
            dependencies: [
                "Wire", "ChatDomain", "ClusterBus",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            // The web chat page, compiled into the binary (no files to ship beside it).
            resources: [.embedInCode("WebPage/chat.html")]
        ),
        // The chorus-node executable: argument parsing and `main` only.
        .executableTarget(
            name: "chorus-node",
            dependencies: [
                "Node", "ChatDomain",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/chorus-node"
        ),
        // chorus-bench: load generator speaking PROTOCOL.md over TCP.
        .executableTarget(
            name: "Bench",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // libFuzzer's driver entry point, for chorus-wire-fuzz built with -sanitize=fuzzer.
        .systemLibrary(name: "CLibFuzzer"),
        // chorus-wire-fuzz: the libFuzzer target over framing, XML and requests (scripts/fuzz.sh);
        // a plain build makes it a replayer of saved inputs.
        .executableTarget(
            name: "WireFuzz",
            dependencies: [
                "Wire",
                "CLibFuzzer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        // The test kit: ports, the built binaries, child processes, a throwaway redis-server,
        // the protocol test client and its frames, `eventually`, the cluster event describer.
        .target(
            name: "ChorusTesting",
            dependencies: [
                "Wire", "ClusterBus",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/ChorusTesting"
        ),
        .testTarget(name: "WireTests", dependencies: ["Wire", "ChorusTesting", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio")]),
        .testTarget(name: "ChatDomainTests", dependencies: ["ChatDomain", "ChorusTesting", "CSpoofChecker"]),
        // docs/protocol.md checked against the code: every reason and every request action.
        .testTarget(name: "ProtocolDocumentTests", dependencies: ["Wire", "ChatDomain", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "RedisClientTests", dependencies: ["RedisClient", "ChorusTesting", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"), .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "ClusterBusTests", dependencies: ["ClusterBus", "RedisClient", "ChatDomain", "ChorusTesting", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"), .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "BenchTests", dependencies: ["Bench", "ChorusTesting", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "NodeTests", dependencies: ["Wire", "Node", "ChatDomain", "ClusterBus", "ChorusTesting", .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]),
        .testTarget(name: "DeployTests", dependencies: ["ChorusTesting", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]),
        // The web chat page in headless Chromium (WebDriver), against a real chorus-node.
        .testTarget(name: "WebTests", dependencies: ["ChorusTesting"]),
    ],
    swiftLanguageModes: [.v6]
)
