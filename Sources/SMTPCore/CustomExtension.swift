/// A MAIL or RCPT parameter the library does not know (`esmtp-param`, RFC 5321 §4.1.2), as the
/// client gave it: the keyword upper-cased, the value as sent (xtext or not is the extension's
/// business).
public struct ESMTPParameter: Hashable, Sendable {
    /// The keyword, upper-cased.
    public var keyword: String
    /// The value after `=`, if any.
    public var value: String?

    /// A parameter `keyword[=value]`.
    public init(keyword: String, value: String? = nil) {
        self.keyword = keyword.uppercased()
        self.value = value
    }

    /// `KEYWORD` or `KEYWORD=value`, as sent.
    public var text: String { value.map { keyword + "=" + $0 } ?? keyword }
}

/// An extension the library does not implement but a server announces for its backend: its
/// EHLO keyword (and parameters), and the MAIL and RCPT parameters it brings, which the server
/// then accepts and hands to the backend (``MailOptions/extensions``,
/// ``RcptOptions/extensions``) instead of answering 555 (RFC 5321 §4.1.1.11). For example
/// Dovecot's `XRCPTFORWARD` (an RCPT parameter) or a vendor's `IGNOREQUOTA`.
public struct CustomExtension: Hashable, Sendable {
    /// The EHLO keyword.
    public var keyword: String
    /// The EHLO keyword's parameters.
    public var parameters: [String]
    /// The MAIL parameters it brings (upper-case keywords).
    public var mailParameters: Set<String>
    /// The RCPT parameters it brings (upper-case keywords).
    public var rcptParameters: Set<String>

    /// An extension announced as `keyword parameters…`, accepting `mailParameters` on MAIL and
    /// `rcptParameters` on RCPT.
    public init(keyword: String, parameters: [String] = [], mailParameters: Set<String> = [], rcptParameters: Set<String> = []) {
        self.keyword = keyword.uppercased()
        self.parameters = parameters
        self.mailParameters = Set(mailParameters.map { $0.uppercased() })
        self.rcptParameters = Set(rcptParameters.map { $0.uppercased() })
    }
}
