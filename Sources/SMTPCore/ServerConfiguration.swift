/// What a server offers and enforces, as the transaction state machine needs to know it.
///
/// These are the protocol-level settings of go-smtp's `Server` (`LMTP`, `Domain`,
/// `MaxRecipients`, `MaxMessageBytes`, `Strict`, `AllowInsecureAuth`, `AuthDisabled`,
/// `EnableSMTPUTF8`, `EnableREQUIRETLS`, `EnableBINARYMIME`, `EnableDSN`).
public struct ServerConfiguration: Hashable, Sendable {
    /// Speak LMTP (RFC 2033): LHLO instead of HELO/EHLO, one reply per recipient after data.
    public var lmtp: Bool
    /// The name the server gives in its greeting and EHLO reply.
    public var hostname: String
    /// The product name in the greeting, after `ESMTP`/`LMTP`.
    public var softwareName: String
    /// Most recipients per transaction; `nil` for no limit (RFC 5321 §4.5.3.1.8 asks for ≥100).
    public var maximumRecipients: Int?
    /// Largest message accepted, in octets; announced with SIZE (RFC 1870). `nil`: no limit.
    public var maximumMessageBytes: Int?
    /// Whether paths must be in angle brackets (go-smtp's `Strict`).
    public var strict: Bool
    /// Whether a body with bare CR or LF is refused (RFC 5321 §2.3.8) instead of kept as is.
    public var rejectBareLineEndings: Bool
    /// The SASL mechanisms offered, e.g. `["PLAIN", "LOGIN"]`; empty means no AUTH.
    public var authMechanisms: [String]
    /// Whether AUTH is turned off altogether; overrides ``allowInsecureAuth``.
    public var authDisabled: Bool
    /// Whether AUTH is offered on connections that are neither TLS nor trusted.
    public var allowInsecureAuth: Bool
    /// Whether STARTTLS can be offered (a TLS configuration exists).
    public var startTLSAvailable: Bool
    /// Announce SMTPUTF8 (RFC 6531).
    public var enableSMTPUTF8: Bool
    /// Announce REQUIRETLS (RFC 8689); only ever announced on a secure connection.
    public var enableREQUIRETLS: Bool
    /// Announce BINARYMIME (RFC 3030).
    public var enableBINARYMIME: Bool
    /// Announce DSN (RFC 3461) and accept its parameters.
    public var enableDSN: Bool
    /// Announce PIPELINING (RFC 2920). Pipelined input is handled correctly either way.
    public var enablePipelining: Bool
    /// Announce CHUNKING and accept BDAT (RFC 3030).
    public var enableChunking: Bool
    /// Negative replies a client may cause before the connection is closed with 421 (Postfix's
    /// `smtpd_hard_error_limit`). `nil`: no limit.
    public var maximumErrors: Int?
    /// Extensions the backend implements and the library does not: announced in EHLO, their
    /// MAIL and RCPT parameters accepted and handed on (any other unknown parameter is 555).
    public var customExtensions: [CustomExtension] = []
    /// Announce DELIVERBY and accept `BY=` (RFC 2852): the backend receives
    /// ``MailOptions/deliverBy`` and keeps the promise (deliver, return or report in time).
    public var enableDELIVERBY = false
    /// The smallest by-time, in seconds, accepted with by-mode `R`, announced as DELIVERBY's
    /// parameter (RFC 2852 §3, min-by-time); 0 announces none.
    public var minimumDeliverByTime = 0
    /// Announce MT-PRIORITY and accept `MT-PRIORITY=` (RFC 6710); the backend receives
    /// ``MailOptions/priority`` and may lower it by its own policy (RFC 6710 §4.1).
    public var enableMTPRIORITY = false
    /// The priority assignment policy named after MT-PRIORITY in EHLO, e.g. `MIXER`
    /// (RFC 6710 §3, ``MTPriority/registeredPolicies``); `nil` names none.
    public var mtPriorityPolicy: String?
    /// Announce RRVS and accept `RRVS=` (RFC 7293): the backend receives
    /// ``RcptOptions/recipientValidSince`` and refuses a mailbox whose owner changed since with
    /// ``SMTPError/mailboxOwnerChanged`` (550 5.7.17).
    public var enableRRVS = false

    /// Creates a configuration with the defaults of a general-purpose server.
    public init(lmtp: Bool = false, hostname: String = "localhost", softwareName: String = "Letterbox",
                maximumRecipients: Int? = 1000, maximumMessageBytes: Int? = 50 * 1024 * 1024,
                strict: Bool = false, rejectBareLineEndings: Bool = false, authMechanisms: [String] = [],
                authDisabled: Bool = false, allowInsecureAuth: Bool = false, startTLSAvailable: Bool = false,
                enableSMTPUTF8: Bool = true, enableREQUIRETLS: Bool = false, enableBINARYMIME: Bool = false,
                enableDSN: Bool = false, enablePipelining: Bool = true, enableChunking: Bool = true,
                maximumErrors: Int? = 20) {
        self.lmtp = lmtp
        self.hostname = hostname
        self.softwareName = softwareName
        self.maximumRecipients = maximumRecipients
        self.maximumMessageBytes = maximumMessageBytes
        self.strict = strict
        self.rejectBareLineEndings = rejectBareLineEndings
        self.authMechanisms = authMechanisms.map { $0.uppercased() }
        self.authDisabled = authDisabled
        self.allowInsecureAuth = allowInsecureAuth
        self.startTLSAvailable = startTLSAvailable
        self.enableSMTPUTF8 = enableSMTPUTF8
        self.enableREQUIRETLS = enableREQUIRETLS
        self.enableBINARYMIME = enableBINARYMIME
        self.enableDSN = enableDSN
        self.enablePipelining = enablePipelining
        self.enableChunking = enableChunking
        self.maximumErrors = maximumErrors
    }
}

/// Facts about one connection that the state machine cannot observe itself.
public struct ConnectionFacts: Hashable, Sendable {
    /// TLS is active (implicit TLS or after STARTTLS).
    public var tlsActive: Bool
    /// The connection is from a trusted network or a local socket (go-smtp's `SecureNet`):
    /// it counts as secure for AUTH and REQUIRETLS, and may use XCLIENT.
    public var trusted: Bool
    /// The client may use XCLIENT (Postfix's `smtpd_authorized_xclient_hosts`).
    public var xclientPermitted: Bool
    /// The client may use XFORWARD (Postfix's `smtpd_authorized_xforward_hosts`).
    public var xforwardPermitted: Bool

    /// Creates facts.
    public init(tlsActive: Bool = false, trusted: Bool = false, xclientPermitted: Bool = false, xforwardPermitted: Bool = false) {
        self.tlsActive = tlsActive
        self.trusted = trusted
        self.xclientPermitted = xclientPermitted
        self.xforwardPermitted = xforwardPermitted
    }

    /// Whether AUTH and REQUIRETLS may be used without further encryption.
    public var isSecure: Bool { tlsActive || trusted }
}
