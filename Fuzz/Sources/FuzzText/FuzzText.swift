import SMTPCore

/// xtext (RFC 3461 §4) and unitext (RFC 6533 §3) over arbitrary input: no crash, and encoding
/// then decoding gives the input back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    _ = XText.decodeBytes(text)
    _ = XText.decode(text)
    _ = UniText.decode(text)
    if XText.decodeBytes(XText.encode(bytes)) != bytes { fatalError("xtext round trip of \(bytes)") }
    // An empty unitext is refused by design (no parameter carries an empty value).
    guard !text.isEmpty else { return 0 }
    if UniText.decode(UniText.encodeUniText(text)) != text { fatalError("unitext round trip of \(text.debugDescription)") }
    if UniText.decode(UniText.encodeXText(text)) != text { fatalError("unitext's xtext form of \(text.debugDescription)") }
    return 0
}
