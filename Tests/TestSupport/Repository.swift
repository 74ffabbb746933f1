import Foundation
import NIOCore
import NIOPosix

/// The repository's root directory (where Package.swift is), for tests that read its documents,
/// contrib files and fixtures.
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
public func freeTCPPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress?.port ?? 0
    try await channel.close()
    return port
}
