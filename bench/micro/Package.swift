// swift-tools-version:6.2
// The in-process microbenchmark of the first-packet path (parse, service lookup, pick, DNAT
// rewrite) and its plain-C reference, in one binary: its own package, as swift-nio's
// Benchmarks/Package.swift, so the daemon's package carries no benchmark code or C flags.
// Run it with bench/micro/run (release build, one core); results in bench/RESULTS.md.
import PackageDescription

let package = Package(
    name: "nfq-lb-microbenchmark",
    dependencies: [.package(name: "nfq-lb", path: "../..")],
    targets: [
        .executableTarget(
            name: "RewriteBenchmark",
            dependencies: [
                "CReference",
                "CBenchShim",
                .product(name: "PacketRewrite", package: "nfq-lb"),
                .product(name: "Balancer", package: "nfq-lb"),
            ],
            swiftSettings: [
                .enableUpcomingFeature("MemberImportVisibility"),
                .enableUpcomingFeature("ExistentialAny"),
            ]
        ),
        // The same work in plain C, the reference the Swift figures are compared with. -O2 as
        // a C data path would ship; unsafeFlags is allowed because this package is built as a
        // root package, never depended on.
        .target(
            name: "CReference",
            cSettings: [.unsafeFlags(["-O2", "-std=c11", "-Wall", "-Wextra"])]
        ),
        // Only what Swift cannot import from libc (pinning needs _GNU_SOURCE and CPU_SET).
        .target(name: "CBenchShim"),
    ],
    swiftLanguageModes: [.v6]
)
