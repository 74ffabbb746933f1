import Foundation
import NIOSSL
import Testing

/// A self-signed certificate made by `openssl` for this test run.
public struct TestCertificate {
    public let certificate: NIOSSLCertificate
    public let key: NIOSSLPrivateKey

    /// Generates one; without `openssl` the test is skipped (``External/require(_:)``).
    public static func make(in directory: String, commonName: String = "mx.test") throws -> TestCertificate {
        let openssl = try External.require("openssl")
        let process = try ChildProcess(openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                                 "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem", "-days", "2",
                                                 "-subj", "/CN=\(commonName)", "-addext", "subjectAltName=DNS:\(commonName)"],
                                       standardOutput: .null, standardError: .null)
        let status = process.waitUntilExit()
        guard status == 0 else { throw SetupFailure("openssl req failed with status \(status)") }
        guard let certificate = try NIOSSLCertificate.fromPEMFile(directory + "/cert.pem").first else {
            throw SetupFailure("openssl wrote no certificate")
        }
        return TestCertificate(certificate: certificate,
                               key: try NIOSSLPrivateKey(file: directory + "/key.pem", format: .pem))
    }

    public func serverContext() throws -> NIOSSLContext {
        try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: [.certificate(certificate)],
                                                                  privateKey: .privateKey(key)))
    }

    public static func clientContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        return try NIOSSLContext(configuration: configuration)
    }
}

/// Something a test needed to set up failed (not a finding about the code under test).
public struct SetupFailure: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// External programs and privileges the tests use. On a developer's machine a test that lacks
/// one is reported as skipped (cancelled, with the reason); in CI (`LETTERBOX_REQUIRE_EXTERNAL=1`,
/// set by `.ci/run`) it fails instead, so that nothing CI should test passes untested.
public enum External {
    public static var required: Bool { ProcessInfo.processInfo.environment["LETTERBOX_REQUIRE_EXTERNAL"] == "1" }

    /// Why a test could not run where it must (CI).
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// The path of `name` on PATH, if any.
    public static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The path of `name` on PATH; without it the test stops here, skipped (``unavailable(_:)``).
    public static func require(_ name: String) throws -> String {
        if let path = find(name) { return path }
        try unavailable("\(name) is not on PATH")
    }

    /// Stops the test because what it needs is missing (`reason`): skipped, or a failure in CI.
    public static func unavailable(_ reason: String) throws -> Never {
        if required { throw Unavailable(description: reason + " (required: LETTERBOX_REQUIRE_EXTERNAL=1)") }
        try Test.cancel(Comment(rawValue: reason))
    }

    /// Stops the test, skipped (or a failure in CI), unless it runs as root.
    public static func requireRoot(_ purpose: String) throws {
        if getuid() != 0 { try unavailable("\(purpose) needs root") }
    }
}
