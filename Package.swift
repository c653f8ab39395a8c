// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "nfq-lb",
    products: [
        .executable(name: "nfq-lb", targets: ["nfq-lb"]),
        .library(name: "PacketRewrite", targets: ["PacketRewrite"]),
        .library(name: "Balancer", targets: ["Balancer"]),
        .library(name: "NFQLB", targets: ["NFQLB"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // C libraries: libnetfilter_queue, libnfnetlink, libmnl, libnftnl. Compiles nothing:
        // the shim header holds only the macros Swift cannot import, as static inline one-liners.
        .systemLibrary(
            name: "CNFQueue",
            path: "Sources/CNFQueue",
            pkgConfig: "libnetfilter_queue",
            providers: [.apt(["libnetfilter-queue-dev", "libmnl-dev", "libnfnetlink-dev", "libnftnl-dev"])]
        ),
        // Pure Swift: header views over raw packet bytes, in-place rewrite, checksums.
        .target(name: "PacketRewrite"),
        // Pure Swift: services, endpoints, strategies, affinity, the lock-free service table.
        .target(
            name: "Balancer",
            dependencies: [
                "PacketRewrite",
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        // The daemon's logic: netlink, queue workers, conntrack, nftables map, config, metrics.
        .target(
            name: "NFQLB",
            dependencies: [
                "CNFQueue",
                "PacketRewrite",
                "Balancer",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The Kubernetes source: list + watch of Services, EndpointSlices and this node's Node,
        // turned into services. Control path only: the packet path never imports it.
        .target(
            name: "KubernetesSource",
            dependencies: [
                "Balancer",
                "PacketRewrite",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "nfq-lb",
            dependencies: [
                "NFQLB",
                "Balancer",
                "KubernetesSource",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "RewriteTests",
            dependencies: [
                "PacketRewrite",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "BalancerTests",
            dependencies: [
                "Balancer",
                "PacketRewrite",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "KubernetesSourceTests",
            dependencies: ["KubernetesSource", "Balancer", "PacketRewrite"]
        ),
        .testTarget(
            name: "NFQLBTests",
            dependencies: ["NFQLB", "Balancer", "PacketRewrite"]
        ),
        // Real kernel: network namespaces, iptables, NFQUEUE, conntrack. Needs root; fails (never skips) without it.
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["NFQLB", "KubernetesSource", .product(name: "Logging", package: "swift-log")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    target.swiftSettings = settings
}
