import SMTPCore

/// XCLIENT and XFORWARD attributes (Postfix XCLIENT_README, XFORWARD_README) after the verb,
/// over arbitrary input: no crash, and an accepted command encodes to a line that parses to the
/// same attributes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let attributes = Array(UnsafeBufferPointer(start: data, count: size)).filter { $0 != 13 && $0 != 10 }
    for verb in ["XCLIENT ", "XFORWARD "] {
        guard let command = try? CommandParser().parse(Array(verb.utf8) + attributes) else { continue }
        guard let again = try? CommandParser().parse(command.line) else { fatalError("\(command) does not parse after encoding") }
        if again != command { fatalError("\(command) → \(again)") }
    }
    return 0
}
