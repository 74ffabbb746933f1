import NIOCore
import SMTPCore

/// The DATA decoder over arbitrary bytes in arbitrary pieces, and the encoder against it.
/// The first input byte picks the piece size. Properties: decoding never crashes; whatever the
/// encoder makes of a body decodes completely with nothing left over; and decoding that is a
/// fixed point (encode, decode, encode, decode gives the same body again).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let piece = Int(data[0]) + 1
    let bytes = UnsafeBufferPointer(start: data + 1, count: size - 1)

    // Raw input, as a client would send it, in pieces.
    for reject in [false, true] {
        var decoder = DataDecoder(maximumBytes: 4096, rejectBareLineEndings: reject)
        var offset = 0
        while offset < bytes.count {
            var input = ByteBuffer(bytes: bytes[offset..<min(bytes.count, offset + piece)])
            offset += piece
            if decoder.decode(&input, body: { _ in }) != nil { break }
        }
    }

    // Round trip through the encoder.
    let once = roundTrip(ByteBuffer(bytes: bytes), piece: piece)
    let twice = roundTrip(once, piece: piece)
    if once != twice { fatalError("decode(encode(x)) is not a fixed point") }
    return 0
}

func roundTrip(_ body: ByteBuffer, piece: Int) -> ByteBuffer {
    var encoder = DataEncoder()
    var encoded = ByteBuffer()
    var rest = body
    while rest.readableBytes > 0, let chunk = rest.readSlice(length: min(piece, rest.readableBytes)) {
        encoder.encode(chunk, into: &encoded)
    }
    encoder.finish(into: &encoded)
    var decoder = DataDecoder()
    var decoded = ByteBuffer()
    guard let end = decoder.decode(&encoded, body: { chunk in var chunk = chunk; decoded.writeBuffer(&chunk) }) else {
        fatalError("the encoder's output does not end the data")
    }
    if end != .complete { fatalError("the encoder's output fails: \(end)") }
    if encoded.readableBytes != 0 { fatalError("bytes left after the encoder's end of data") }
    return decoded
}
