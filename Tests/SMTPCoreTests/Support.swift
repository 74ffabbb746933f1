import NIOCore
@testable import SMTPCore

func buffer(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

extension ByteBuffer {
    var text: String { String(buffer: self) }
    var bytes: [UInt8] { Array(readableBytesView) }
}

/// Every way to cut `bytes` in two, plus one byte at a time: the chunkings a decoder must not
/// notice.
func chunkings(of bytes: [UInt8]) -> [[[UInt8]]] {
    var result: [[[UInt8]]] = []
    for split in 0...bytes.count {
        result.append([Array(bytes[..<split]), Array(bytes[split...])])
    }
    result.append(bytes.map { [$0] })
    return result
}
