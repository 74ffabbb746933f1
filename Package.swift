// swift-tools-version: 6.2
//
// Letterbox: an SMTP/LMTP library for Swift and a local LMTP delivery agent.
// Layering (see docs/architecture.md): SMTPCore is the sans-I/O protocol core
// and imports nothing of ours; every other module builds on it.
import PackageDescription

/// Every target of ours builds in Swift 6 mode with warnings as errors (SE-0480), so a warning
/// can never land; dependencies are not affected.
let strictness: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "Letterbox",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "SMTPCore", targets: ["SMTPCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
    ],
    targets: [
        .target(
            name: "SMTPCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictness
        ),
        .testTarget(
            name: "SMTPCoreTests",
            dependencies: [
                "SMTPCore",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictness
        ),
        .executableTarget(
            name: "CoreBenchmark",
            dependencies: [
                "SMTPCore",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/CoreBenchmark",
            swiftSettings: strictness
        ),
    ],
    swiftLanguageModes: [.v6]
)
