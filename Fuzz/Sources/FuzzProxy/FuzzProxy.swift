import NIOCore
import SMTPCore

/// PROXY protocol headers (HAProxy proxy-protocol.txt) over arbitrary input: no crash; a header
/// is decoded from exactly the octets it consumed, and no shorter prefix of them yields one.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var buffer = ByteBuffer(bytes: bytes)
    guard let header = try? ProxyProtocolHeader.decode(&buffer) else { return 0 }
    let consumed = size - buffer.readableBytes
    var exact = ByteBuffer(bytes: bytes[..<consumed])
    guard let again = try? ProxyProtocolHeader.decode(&exact), again == header, exact.readableBytes == 0 else {
        fatalError("\(header) not decoded again from its own \(consumed) octets")
    }
    var shorter = ByteBuffer(bytes: bytes[..<(consumed - 1)])
    if (try? ProxyProtocolHeader.decode(&shorter)) != nil {
        fatalError("\(header) decoded from fewer octets than it consumed")
    }
    return 0
}
