import Sieve

/// A script whose tests read every part of a message: header fields (decoded, matched with
/// wildcards), addresses and their parts, the envelope, the body's MIME parts, sizes and dates.
/// Compiled for each input: a program kept in a global is reported as leaked by LeakSanitizer,
/// which does not recognise the pointers Swift stores in an enum's spare bits.
private let messageScript = """
    require ["body", "envelope", "subaddress", "variables", "relational", "comparator-i;ascii-numeric", "date", "index", "fileinto"];
    if header :contains ["subject", "x-spam"] ["offer", "=?"] { fileinto "A"; }
    if header :matches "subject" "*[*]*" { set "tag" "${2}"; }
    if address :domain :is ["from", "to", "cc"] "example.com" { fileinto "B"; }
    if address :detail "to" "x" { fileinto "C"; }
    if address :all :index 2 :last "received" "a@b" { fileinto "D"; }
    if envelope :user "to" "me" { keep; }
    if body :text :contains ["unsubscribe", "é"] { fileinto "E"; }
    if body :content "text" :contains "x" { fileinto "F"; }
    if body :raw :matches "*--*" { fileinto "G"; }
    if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "5" { fileinto "H"; }
    if date :value "gt" "date" "year" "2000" { fileinto "I"; }
    if exists "list-id" { fileinto "J"; }
    """

/// Sieve scripts over arbitrary input: no crash in the lexer, parser or compiler, and a script
/// that parses prints to a text that parses to a script printing the same (a fixed point). The
/// same input as a message: read (header fields, body, MIME parts) and tested by a script that
/// looks at all of it, without a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let octets = Array(UnsafeBufferPointer(start: data, count: size))
    let message = SieveMessage(octets, envelopeFrom: "s@example.net", envelopeTo: "me+x@example.com")
    guard let program = try? Compiler.compile(messageScript) else { fatalError("the message script does not compile") }
    _ = program.run(on: message, environment: SieveEnvironment(now: 1_765_000_000))
    let text = String(decoding: octets, as: UTF8.self)
    guard let script = try? Parser.parse(text) else { return 0 }
    let printed = script.description
    guard let again = try? Parser.parse(printed) else { fatalError("printed script does not parse:\n\(printed)") }
    if again.description != printed { fatalError("printing is not a fixed point:\n\(printed)\n---\n\(again.description)") }
    _ = try? Compiler.compile(script)
    return 0
}
