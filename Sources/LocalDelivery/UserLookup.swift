/// A local user, as the users file or the users table gives it.
public struct LocalUser: Sendable, Hashable {
    /// The address, lower-cased.
    public var address: String
    /// The quota in octets, if set.
    public var quota: Int?
    /// The user's Maildir under the mail root, when the users table says (else the mailbox
    /// template places it).
    public var mailbox: String?

    /// A user at `address` with an optional `quota` and `mailbox`.
    public init(address: String, quota: Int? = nil, mailbox: String? = nil) {
        self.address = address
        self.quota = quota
        self.mailbox = mailbox
    }
}

/// Where the local users are: the addresses a RCPT may name, each with its quota and, if it has
/// one, its own mailbox. The users file (``UserDirectory``) and a PostgreSQL query
/// (``PostgresUsers``) are the two kinds, like Dovecot's passwd-file and SQL userdbs.
public protocol UserLookup: Sendable {
    /// The user at `address` (lower-cased, without its `+detail`; `localPart` and `domain` are
    /// its two halves), or nil when there is none: the RCPT is refused with 550 5.1.1. Throws
    /// when the answer cannot be known now (a database that is down or slow): the RCPT is
    /// deferred with 451 4.3.0, never refused.
    func user(address: String, localPart: String, domain: String) async throws -> LocalUser?

    /// Forgets what was remembered of earlier answers (SIGHUP), if anything was.
    func forget()
}

extension UserLookup {
    /// Nothing to forget: a lookup that keeps no answers.
    public func forget() {}
}
