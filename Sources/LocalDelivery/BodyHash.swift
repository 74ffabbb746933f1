import Crypto

/// The SHA-256 (FIPS 180-4) of a message body, fed as it streams in, for the delivery log's
/// duplicate check. Computed by swift-crypto (BoringSSL, with the CPU's SHA instructions where
/// it has them), which every byte of every message goes through.
public struct BodyHash: Sendable {
    private var hasher = SHA256()

    /// Creates an empty hash.
    public init() {}

    /// Adds bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
    }

    /// Adds bytes.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest, in lower-case hex.
    public func finalize() -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in hasher.finalize() {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }
}
