/// The `xtext` encoding of RFC 3461 §4 (DSN `ENVID`, `ORCPT`, and `AUTH=` of RFC 4954 §5).
///
/// ```
/// xtext   = *( xchar / hexchar )
/// xchar   = any ASCII CHAR between "!" (33) and "~" (126) inclusive, except "+" and "="
/// hexchar = "+" 2(%x30-39 / %x41-46)
/// ```
public enum XText {
    /// Encodes `bytes`: every byte outside `!`…`~`, and `+` and `=`, becomes `+XX`.
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(bytes.underestimatedCount)
        for byte in bytes {
            if byte >= 0x21, byte <= 0x7E, byte != UInt8(ascii: "+"), byte != UInt8(ascii: "=") {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "+"))
                out.append(hexDigit(byte >> 4))
                out.append(hexDigit(byte & 0x0F))
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Encodes the UTF-8 bytes of `string`.
    public static func encode(_ string: String) -> String { encode(string.utf8) }

    /// Decodes xtext into its bytes, or returns `nil` if `text` is not valid xtext.
    ///
    /// Upper-case hex digits are what RFC 3461 specifies; lower-case ones are accepted too, as
    /// Postfix does, because a sender that writes them means nothing else by them.
    public static func decodeBytes<Text: StringProtocol>(_ text: Text) -> [UInt8]? {
        var out = [UInt8]()
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "+") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                out.append(high << 4 | low)
            } else if byte >= 0x21, byte <= 0x7E, byte != UInt8(ascii: "=") {
                out.append(byte)
            } else {
                return nil
            }
        }
        return out
    }

    /// Decodes xtext whose content must be valid UTF-8, or returns `nil`.
    public static func decode<Text: StringProtocol>(_ text: Text) -> String? {
        guard let bytes = decodeBytes(text) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "A") + nibble - 10
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}

/// The encodings of UTF-8 addresses in DSN parameters, RFC 6533 §3.
///
/// ```
/// utf-8-addr-xtext   = 1*(QCHAR / EmbeddedUnicodeChar)
/// utf-8-addr-unitext = 1*(QUCHAR / EmbeddedUnicodeChar)
/// QCHAR  = %x21-2a / %x2c-3c / %x3e-5b / %x5d-7e   ; printable ASCII but "+", "=", "\"
/// QUCHAR = QCHAR / UTF8-2 / UTF8-3 / UTF8-4
/// EmbeddedUnicodeChar = %x5C.78 "{" HEXPOINT "}"     ; \x{HEX}
/// ```
public enum UniText {
    /// Encodes `string` as utf-8-addr-xtext: everything but QCHAR becomes `\x{HEX}`, so the
    /// result is pure ASCII (for a peer that did not get SMTPUTF8).
    public static func encodeXText(_ string: String) -> String {
        encode(string, keepingNonASCII: false)
    }

    /// Encodes `string` as utf-8-addr-unitext: non-ASCII characters stay as UTF-8, only the
    /// ASCII characters outside QCHAR become `\x{HEX}`.
    public static func encodeUniText(_ string: String) -> String {
        encode(string, keepingNonASCII: true)
    }

    /// Decodes utf-8-addr-xtext or utf-8-addr-unitext, or returns `nil` when `text` is empty,
    /// malformed, or encodes a character that is not a Unicode scalar.
    ///
    /// For robustness the `+XX` escapes of plain xtext are accepted as well (a sender that
    /// applied xtext to a UTF-8 ORCPT); a `+XX` sequence must form valid UTF-8.
    public static func decode<Text: StringProtocol>(_ text: Text) -> String? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\") {
                // \x{HEXPOINT}
                guard index + 4 < bytes.count, bytes[index + 1] == UInt8(ascii: "x"),
                      bytes[index + 2] == UInt8(ascii: "{") else { return nil }
                var cursor = index + 3
                var value: UInt32 = 0
                var digits = 0
                while cursor < bytes.count, let digit = XText.hexValue(bytes[cursor]) {
                    value = value << 4 | UInt32(digit)
                    digits += 1
                    cursor += 1
                    if digits > 6 { return nil }
                }
                guard digits >= 2, cursor < bytes.count, bytes[cursor] == UInt8(ascii: "}"),
                      let scalar = Unicode.Scalar(value) else { return nil }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
                index = cursor + 1
            } else if byte == UInt8(ascii: "+") {
                guard index + 2 < bytes.count, let high = XText.hexValue(bytes[index + 1]),
                      let low = XText.hexValue(bytes[index + 2]) else { return nil }
                out.append(high << 4 | low)
                index += 3
            } else if byte >= 0x80 || (byte >= 0x21 && byte <= 0x7E && byte != UInt8(ascii: "=")) {
                out.append(byte)
                index += 1
            } else {
                return nil
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func encode(_ string: String, keepingNonASCII: Bool) -> String {
        var out = ""
        for scalar in string.unicodeScalars {
            let value = scalar.value
            let isQChar = value >= 0x21 && value <= 0x7E && value != 0x2B && value != 0x3D && value != 0x5C
            if isQChar || (keepingNonASCII && value >= 0x80) {
                out.unicodeScalars.append(scalar)
            } else {
                let hex = String(value, radix: 16, uppercase: true)
                out += "\\x{" + (hex.count < 2 ? "0" + hex : hex) + "}"
            }
        }
        return out
    }
}
