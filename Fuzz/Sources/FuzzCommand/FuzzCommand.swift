import NIOCore
import SMTPCore

/// The command line framer and parser, lenient and strict, over arbitrary bytes: no crash;
/// every parsed command encodes to a line the parser accepts, and parsing what is encoded is
/// a fixed point (a second encode and parse changes nothing).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    var framer = LineFramer(maximumLineLength: 512)
    while let framed = framer.next(&input) {
        guard case .line(let line) = framed else { continue }
        for strict in [false, true] {
            guard let command = try? CommandParser(strict: strict).parse(line) else { continue }
            let once = reparse(command, strict: strict)
            let twice = reparse(once, strict: strict)
            if once != twice { fatalError("\(command) → \(once) → \(twice)") }
        }
    }
    return 0
}

func reparse(_ command: Command, strict: Bool) -> Command {
    let encoded = command.line
    guard let again = try? CommandParser(strict: strict).parse(encoded) else {
        fatalError("\(command) encodes to \(encoded.debugDescription), which does not parse")
    }
    return again
}
