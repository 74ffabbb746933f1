// swift-tools-version: 6.2
//
// The benchmark executables, a package of their own so that building the library and the agent
// builds none of them (docs/performance.md says what each measures and how to run it):
//
//   swift build --package-path Benchmarks --scratch-path .build/benchmarks -c release --static-swift-stdlib --product NullServer
//
// Benchmarks/server-throughput.sh, compare/run.sh and load/run.sh build what they run.
import PackageDescription

let package = Package(
    name: "LetterboxBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Letterbox", path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
    ],
    targets: [
        .executableTarget(
            name: "CoreBenchmark",
            dependencies: [
                .product(name: "SMTPCore", package: "Letterbox"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "CoreBenchmark",
            swiftSettings: [.treatAllWarnings(as: .error)]
        ),
        .executableTarget(
            name: "SieveBenchmark",
            dependencies: [.product(name: "Sieve", package: "Letterbox")],
            path: "SieveBenchmark",
            exclude: ["fifty-rules.sieve"],
            swiftSettings: [.treatAllWarnings(as: .error)]
        ),
        .executableTarget(
            name: "NullServer",
            dependencies: [
                .product(name: "SMTPCore", package: "Letterbox"),
                .product(name: "SMTPServer", package: "Letterbox"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "NullServer",
            swiftSettings: [.treatAllWarnings(as: .error)]
        ),
        .executableTarget(
            name: "LoadTest",
            dependencies: [
                .product(name: "SMTPClient", package: "Letterbox"),
                .product(name: "SMTPCore", package: "Letterbox"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "LoadTest",
            swiftSettings: [.treatAllWarnings(as: .error)]
        ),
    ],
    swiftLanguageModes: [.v6]
)
