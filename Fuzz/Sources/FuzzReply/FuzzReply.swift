import NIOCore
import SMTPCore

/// The reply decoder over arbitrary bytes: no crash, and every reply it returns encodes to
/// lines it decodes again; encoding replaces CR, LF and NUL in the text, so the property is a
/// fixed point: after one encode and decode, another changes nothing.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    var decoder = ReplyDecoder(maximumLineLength: 512, maximumLines: 50)
    while true {
        guard let reply = try? decoder.decode(&input) else { break }
        let once = roundTrip(reply)
        let twice = roundTrip(once)
        if once != twice { fatalError("\(reply) → \(once) → \(twice)") }
    }
    return 0
}

func roundTrip(_ reply: Reply) -> Reply {
    var encoded = ByteBuffer()
    reply.write(to: &encoded)
    var decoder = ReplyDecoder()
    guard let decoded = try? decoder.decode(&encoded) else { fatalError("\(reply) does not decode after encoding") }
    if encoded.readableBytes != 0 { fatalError("\(reply) encodes to more than one reply") }
    return decoded
}
