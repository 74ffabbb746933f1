/// An enhanced mail system status code, `class.subject.detail` (RFC 3463 §2).
///
/// Servers that announce `ENHANCEDSTATUSCODES` (RFC 2034) put one in front of the text of
/// every 2xx, 4xx and 5xx reply except the greeting and the replies to HELO/EHLO/LHLO.
///
/// Two sentinel values mirror go-smtp (the Go package this library re-creates):
/// - ``notSet``: the producer of an error gave no code; when the reply is encoded, `X.0.0`
///   is used, with `X` taken from the first digit of the reply code.
/// - ``omitted``: the reply deliberately carries no enhanced code (greeting, EHLO, 1xx/3xx).
public struct EnhancedCode: Hashable, Sendable, CustomStringConvertible {
    /// The class: 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    public var statusClass: Int
    /// The subject (RFC 3463 §3), e.g. 1 for addressing, 5 for protocol.
    public var subject: Int
    /// The detail within the subject.
    public var detail: Int

    /// Creates the code `statusClass.subject.detail`.
    public init(_ statusClass: Int, _ subject: Int, _ detail: Int) {
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    /// No code was provided; encoding derives `X.0.0` from the reply code.
    public static let notSet = EnhancedCode(0, 0, 0)

    /// No enhanced code is written at all (go-smtp's `NoEnhancedCode`).
    public static let omitted = EnhancedCode(-1, -1, -1)

    /// Whether this is one of the two sentinels rather than a real code.
    public var isSentinel: Bool { self == .notSet || self == .omitted }

    /// The code that goes on the wire for a reply with `code`, or `nil` when none does.
    ///
    /// RFC 3463 §2 defines only the classes 2, 4 and 5, so 1xx and 3xx replies never carry
    /// one, and a ``notSet`` code becomes `X.0.0` where `X` is the reply's class.
    public func resolved(forReplyCode code: Int) -> EnhancedCode? {
        let replyClass = code / 100
        guard replyClass == 2 || replyClass == 4 || replyClass == 5 else { return nil }
        if self == .omitted { return nil }
        if self == .notSet { return EnhancedCode(replyClass, 0, 0) }
        return self
    }

    /// Parses `class.subject.detail` at the start of `text` (RFC 3463 §2 syntax: class is
    /// 2, 4 or 5; subject and detail are 1 to 3 digits without leading zeros required).
    ///
    /// - Returns: the code and the number of UTF-8 bytes it used, or `nil` when `text`
    ///   does not begin with an enhanced code followed by a space or the end.
    public static func parsePrefix(_ text: Substring) -> (code: EnhancedCode, length: Int)? {
        let bytes = Array(text.utf8.prefix(9))
        var index = 0
        func number(maxDigits: Int) -> Int? {
            var value = 0
            var digits = 0
            while index < bytes.count, digits < maxDigits, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                value = value * 10 + Int(bytes[index] - 0x30)
                digits += 1
                index += 1
            }
            return digits == 0 ? nil : value
        }
        guard let statusClass = number(maxDigits: 1), [2, 4, 5].contains(statusClass),
              index < bytes.count, bytes[index] == UInt8(ascii: ".") else { return nil }
        index += 1
        guard let subject = number(maxDigits: 3), index < bytes.count, bytes[index] == UInt8(ascii: ".") else {
            return nil
        }
        index += 1
        guard let detail = number(maxDigits: 3) else { return nil }
        let rest = text.utf8.dropFirst(index)
        if let next = rest.first, next != UInt8(ascii: " ") { return nil }
        return (EnhancedCode(statusClass, subject, detail), index)
    }

    /// `class.subject.detail`; the sentinels print as `notSet` and `omitted`.
    public var description: String {
        switch self {
        case .notSet: return "notSet"
        case .omitted: return "omitted"
        default: return "\(statusClass).\(subject).\(detail)"
        }
    }
}
