import Sieve

/// Sieve scripts over arbitrary input: no crash in the lexer, parser or compiler, and a script
/// that parses prints to a text that parses to a script printing the same (a fixed point).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let script = try? Parser.parse(text) else { return 0 }
    let printed = script.description
    guard let again = try? Parser.parse(printed) else { fatalError("printed script does not parse:\n\(printed)") }
    if again.description != printed { fatalError("printing is not a fixed point:\n\(printed)\n---\n\(again.description)") }
    _ = try? Compiler.compile(script)
    return 0
}
