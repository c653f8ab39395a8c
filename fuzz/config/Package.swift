// swift-tools-version:6.2
// The config loader's fuzz target: its own package so that the whole loader (NFQLB's config
// code and Yams with its C parser) is built with the fuzzer's coverage and AddressSanitizer,
// via `fuzz/run.sh config` (which passes -sanitize=fuzzer,address to every module).
import PackageDescription

let package = Package(
    name: "nfq-lb-config-fuzz",
    dependencies: [.package(name: "nfq-lb", path: "../..")],
    targets: [
        .executableTarget(
            name: "ConfigFuzz",
            dependencies: [.product(name: "NFQLB", package: "nfq-lb")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
