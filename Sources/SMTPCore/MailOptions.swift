/// The value of the `BODY=` parameter of MAIL (RFC 6152 §2, RFC 3030 §3).
public enum BodyType: String, Hashable, Sendable, CaseIterable {
    /// `7BIT`: lines of US-ASCII (the default when BODY is absent).
    case sevenBit = "7BIT"
    /// `8BITMIME`: 8-bit data in lines (RFC 6152).
    case eightBitMIME = "8BITMIME"
    /// `BINARYMIME`: arbitrary binary MIME; may only be sent with BDAT (RFC 3030 §3).
    case binaryMIME = "BINARYMIME"
}

/// What a failure DSN should contain, the `RET=` parameter (RFC 3461 §4.3).
public enum DSNReturn: String, Hashable, Sendable, CaseIterable {
    /// `FULL`: return the whole message.
    case full = "FULL"
    /// `HDRS`: return only the headers.
    case headers = "HDRS"
}

/// A condition in the `NOTIFY=` parameter of RCPT (RFC 3461 §4.1).
public enum DSNNotify: String, Hashable, Sendable, CaseIterable {
    /// `NEVER`: no DSN at all; must appear alone.
    case never = "NEVER"
    /// `SUCCESS`: report successful delivery.
    case success = "SUCCESS"
    /// `FAILURE`: report failed delivery.
    case failure = "FAILURE"
    /// `DELAY`: report delayed delivery (RFC 3461 spells it DELAY, not DELAYED).
    case delay = "DELAY"
}

/// The `ORCPT=` parameter of RCPT: the recipient as originally given (RFC 3461 §4.2,
/// RFC 6533 §3 for the `utf-8` type).
public struct OriginalRecipient: Hashable, Sendable, CustomStringConvertible {
    /// The address type, lower-cased: `rfc822`, `utf-8`, or another registered type.
    public var addressType: String
    /// The address, decoded from xtext (or from utf-8-addr-xtext / utf-8-addr-unitext).
    public var address: String

    /// Creates an original-recipient value.
    public init(addressType: String = "rfc822", address: String) {
        self.addressType = addressType.lowercased()
        self.address = address
    }

    /// `type;address` in decoded form.
    public var description: String { addressType + ";" + address }
}

/// The ESMTP parameters of a MAIL command (RFC 5321 §4.1.1.2 and the extensions' RFCs).
///
/// A `nil` or `false` field means the parameter was absent.
public struct MailOptions: Hashable, Sendable {
    /// `BODY=` (RFC 6152, RFC 3030).
    public var body: BodyType?
    /// `SIZE=`: the size the client declares for the message, in octets (RFC 1870 §6).
    public var size: Int?
    /// `REQUIRETLS`: the message must only travel over TLS (RFC 8689 §4).
    public var requireTLS: Bool
    /// `SMTPUTF8`: the envelope or headers contain UTF-8 (RFC 6531 §3.4).
    public var utf8: Bool
    /// `AUTH=`: the authenticated submitter, decoded; `""` stands for `AUTH=<>` (RFC 4954 §5).
    public var auth: String?
    /// `RET=` (RFC 3461 §4.3).
    public var dsnReturn: DSNReturn?
    /// `ENVID=`, decoded from xtext; printable US-ASCII only (RFC 3461 §4.4).
    public var envelopeID: String?
    /// `BY=`: deliver within a time, or return or report (RFC 2852 §4).
    public var deliverBy: DeliverBy?
    /// `MT-PRIORITY=`: the message's priority, -9…9 (RFC 6710 §3).
    public var priority: Int?
    /// Parameters of extensions the library does not know, in the order given: a server
    /// accepts only those of its ``ServerConfiguration/customExtensions``; a client sends them.
    public var extensions: [ESMTPParameter] = []

    /// Creates options; every parameter absent by default.
    public init(body: BodyType? = nil, size: Int? = nil, requireTLS: Bool = false, utf8: Bool = false,
                auth: String? = nil, dsnReturn: DSNReturn? = nil, envelopeID: String? = nil,
                deliverBy: DeliverBy? = nil, priority: Int? = nil) {
        self.body = body
        self.size = size
        self.requireTLS = requireTLS
        self.utf8 = utf8
        self.auth = auth
        self.dsnReturn = dsnReturn
        self.envelopeID = envelopeID
        self.deliverBy = deliverBy
        self.priority = priority
    }
}

/// The ESMTP parameters of a RCPT command (RFC 3461 §4).
public struct RcptOptions: Hashable, Sendable {
    /// `NOTIFY=`: when a DSN is wanted; `[.never]` alone or a set of the others.
    public var notify: [DSNNotify]?
    /// `ORCPT=`.
    public var originalRecipient: OriginalRecipient?
    /// `RRVS=`: the mailbox must have had the same owner since then (RFC 7293 §3).
    public var recipientValidSince: RecipientValidSince?
    /// Parameters of extensions the library does not know, in the order given (see
    /// ``MailOptions/extensions``).
    public var extensions: [ESMTPParameter] = []

    /// Creates options; every parameter absent by default.
    public init(notify: [DSNNotify]? = nil, originalRecipient: OriginalRecipient? = nil,
                recipientValidSince: RecipientValidSince? = nil) {
        self.notify = notify
        self.originalRecipient = originalRecipient
        self.recipientValidSince = recipientValidSince
    }
}
