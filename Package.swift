// swift-tools-version: 6.2
//
// Letterbox: an SMTP/LMTP library for Swift and a local LMTP delivery agent.
// Layering (see docs/architecture.md): SMTPCore is the sans-I/O protocol core
// and imports nothing of ours; every other module builds on it.
import PackageDescription

/// Every target of ours builds in Swift 6 mode with warnings as errors (SE-0480), so a warning
/// can never land; dependencies are not affected.
let strictness: [SwiftSetting] = [.treatAllWarnings(as: .error)]

/// What a module that talks over the network with SwiftNIO and swift-nio-ssl needs.
let networking: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "NIOSSL", package: "swift-nio-ssl"),
    .product(name: "NIOTLS", package: "swift-nio"),
]

let package = Package(
    name: "Letterbox",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SMTPCore", targets: ["SMTPCore"]),
        .library(name: "SASL", targets: ["SASL"]),
        .library(name: "SMTPServer", targets: ["SMTPServer"]),
        .library(name: "SMTPClient", targets: ["SMTPClient"]),
        .library(name: "SMTPBackendUtilities", targets: ["SMTPBackendUtilities"]),
        .library(name: "Sieve", targets: ["Sieve"]),
        .executable(name: "letterbox", targets: ["letterbox"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // `swift package generate-documentation` for the DocC catalogs of SMTPServer and SMTPClient.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "SMTPCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictness
        ),
        .target(
            name: "SASL",
            swiftSettings: strictness
        ),
        .target(name: "CMallocTuning"),
        .target(name: "CFileSystem"),
        .target(
            name: "SMTPTransport",
            dependencies: [
                "SMTPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictness
        ),
        .target(
            name: "SMTPServer",
            dependencies: ["SMTPCore", "SMTPTransport", "SASL", .product(name: "Logging", package: "swift-log"),
                           .product(name: "CoreMetrics", package: "swift-metrics"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")] + networking,
            swiftSettings: strictness
        ),
        .target(
            name: "SMTPClient",
            dependencies: ["SMTPCore", "SMTPTransport", "SASL"] + networking,
            swiftSettings: strictness
        ),
        .target(
            name: "SMTPBackendUtilities",
            dependencies: ["SMTPServer", "SMTPCore", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictness
        ),
        .target(
            name: "Maildir",
            dependencies: ["CFileSystem"],
            swiftSettings: strictness
        ),
        .target(
            name: "PostgresAccess",
            dependencies: [.product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
                           .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: strictness
        ),
        .target(
            name: "DeliveryLog",
            dependencies: ["CFileSystem", "PostgresAccess", "SMTPCore", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "GRDBSQLite", package: "GRDB.swift"),
                           .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
                           .product(name: "NIOPosix", package: "swift-nio"), .product(name: "CoreMetrics", package: "swift-metrics")],
            swiftSettings: strictness
        ),
        // RFC 5228 Sieve and its extensions, pure: script text and a message in, actions out.
        .target(
            name: "Sieve",
            dependencies: ["SMTPCore"],
            swiftSettings: strictness
        ),
        .target(
            name: "LocalDelivery",
            dependencies: ["SMTPServer", "SMTPClient", "SMTPCore", "Maildir", "DeliveryLog", "PostgresAccess", "Sieve",
                           .product(name: "PostgresNIO", package: "postgres-nio"),
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "CoreMetrics", package: "swift-metrics")] + networking,
            swiftSettings: strictness
        ),
        .executableTarget(
            name: "letterbox",
            dependencies: ["SMTPClient", "SMTPServer", "SMTPCore", "SASL", "LocalDelivery", "DeliveryLog", "Maildir", "SMTPBackendUtilities",
                           "CMallocTuning", "PostgresAccess", "Sieve",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "CoreMetrics", package: "swift-metrics"),
                           .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "NIOHTTP1", package: "swift-nio")] + networking,
            swiftSettings: strictness
        ),
        .target(
            name: "ProtocolFixtures",
            dependencies: ["SMTPCore"],
            path: "Tests/ProtocolFixtures",
            swiftSettings: strictness
        ),
        .target(
            name: "TestSupport",
            dependencies: ["SMTPServer", "SMTPClient", "SMTPCore", .product(name: "Logging", package: "swift-log")] + networking,
            path: "Tests/TestSupport",
            swiftSettings: strictness
        ),
        .testTarget(
            name: "SASLTests",
            dependencies: ["SASL"],
            swiftSettings: strictness
        ),
        .testTarget(
            name: "SMTPServerTests",
            dependencies: ["SMTPServer", "SMTPCore", "SASL", "ProtocolFixtures", "TestSupport",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")] + networking,
            swiftSettings: strictness
        ),
        .testTarget(
            name: "SMTPClientTests",
            dependencies: ["SMTPClient", "SMTPServer", "SMTPCore", "SASL", "TestSupport"] + networking,
            swiftSettings: strictness
        ),
        .testTarget(
            name: "SMTPBackendUtilitiesTests",
            dependencies: ["SMTPBackendUtilities", "SMTPClient", "SMTPServer", "SMTPCore", "SASL", "TestSupport"] + networking,
            swiftSettings: strictness
        ),
        // The command line through the real binary, needing nothing but the binary itself.
        .testTarget(
            name: "LetterboxTests",
            dependencies: ["letterbox", "SMTPServer", "SMTPClient", "SMTPCore", "TestSupport"] + networking,
            swiftSettings: strictness
        ),
        // The agent with programs nobody here wrote (Python's smtplib, sqlite3, strace, Postfix,
        // Exim, systemd-analyze) or as root (loop-mounted file systems, kill -9 and power-failure
        // replays, the install guide): each test is skipped where what it needs is missing, and
        // fails instead in CI (LETTERBOX_REQUIRE_EXTERNAL=1).
        .testTarget(
            name: "LetterboxIntegrationTests",
            dependencies: ["letterbox", "SMTPServer", "SMTPClient", "SMTPCore", "TestSupport"] + networking,
            swiftSettings: strictness
        ),
        .testTarget(
            name: "DeliveryLogTests",
            dependencies: ["DeliveryLog", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strictness
        ),
        .testTarget(
            name: "LocalDeliveryTests",
            dependencies: ["LocalDelivery", "DeliveryLog", "SMTPCore", "Sieve", "TestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictness
        ),
        .testTarget(
            name: "MaildirTests",
            dependencies: ["Maildir", "TestSupport"],
            swiftSettings: strictness
        ),
        .testTarget(
            name: "SieveTests",
            dependencies: ["Sieve"],
            swiftSettings: strictness
        ),
        .testTarget(
            name: "SMTPCoreTests",
            dependencies: [
                "SMTPCore",
                "ProtocolFixtures",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictness
        ),
    ],
    swiftLanguageModes: [.v6]
)
