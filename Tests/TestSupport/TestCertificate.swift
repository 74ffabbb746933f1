import Foundation
import NIOSSL
import Testing

/// A self-signed certificate made by `openssl` for this test run.
public struct TestCertificate {
    public let certificate: NIOSSLCertificate
    public let key: NIOSSLPrivateKey

    /// Generates one, or returns `nil` (recording an issue in CI) when `openssl` is missing.
    public static func make(in directory: String, commonName: String = "mx.test") throws -> TestCertificate? {
        guard let openssl = External.find("openssl") else { return nil }
        let process = try ChildProcess(openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                                 "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem", "-days", "2",
                                                 "-subj", "/CN=\(commonName)", "-addext", "subjectAltName=DNS:\(commonName)"],
                                       standardOutput: .null, standardError: .null)
        let status = process.waitUntilExit()
        guard status == 0 else {
            Issue.record("openssl req failed with status \(status)")
            return nil
        }
        guard let certificate = try NIOSSLCertificate.fromPEMFile(directory + "/cert.pem").first else { return nil }
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

/// External programs the tests use. On a developer's machine a missing one skips its test;
/// in CI (`LETTERBOX_REQUIRE_EXTERNAL=1`, set by `.ci/run`) it is a failure.
public enum External {
    public static var required: Bool { ProcessInfo.processInfo.environment["LETTERBOX_REQUIRE_EXTERNAL"] == "1" }

    public static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        if required { Issue.record("\(name) is required in CI but was not found on PATH") }
        return nil
    }
}
