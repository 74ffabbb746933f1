// swift-tools-version: 6.2
//
// libFuzzer targets for the protocol core and the Sieve parser. A package of its own so that
// only SMTPCore, NIOCore and Sieve are built with the sanitizers:
//
//   cd Fuzz && swift build -c release --sanitize=fuzzer --sanitize=address \
//       -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table
//   SWIFT_BACKTRACE=enable=no .build/release/FuzzCommand Corpus/command -max_total_time=60
//
// Fuzz/run.sh builds them and runs each over its corpus in Corpus/.
import PackageDescription

let package = Package(
    name: "LetterboxFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Letterbox", path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
    ],
    targets: ["FuzzCommand", "FuzzReply", "FuzzData", "FuzzText", "FuzzXClient", "FuzzProxy"].map { name in
        .executableTarget(
            name: name,
            dependencies: [
                .product(name: "SMTPCore", package: "Letterbox"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.treatAllWarnings(as: .error)]
        )
    } + [
        .executableTarget(
            name: "FuzzSieve",
            dependencies: [.product(name: "Sieve", package: "Letterbox")],
            swiftSettings: [.treatAllWarnings(as: .error)]
        ),
    ],
    swiftLanguageModes: [.v6]
)
