/// What a script decided for one message (RFC 5228 §2.10): its actions, duplicates merged, and
/// whether the implicit keep still applies.
public struct SieveResult: Hashable, Sendable {
    /// The explicit actions, in the order the script took them.
    public var actions: [SieveAction]
    /// Whether the message also goes to the inbox because no action cancelled the implicit
    /// keep (RFC 5228 §2.10.2), or because the script failed.
    public var implicitKeep: Bool
    /// The flags the implicit keep stores with (RFC 5232 §3: the internal variable at the end).
    public var implicitKeepFlags: [String]
    /// Why the script failed while running, when it did: its actions are then dropped and the
    /// message kept (RFC 5228 §2.10.6), as Pigeonhole does.
    public var runtimeError: String?
}

/// One action of a script's result.
public enum SieveAction: Hashable, Sendable {
    /// `keep`: into the inbox, with these flags (RFC 5228 §4.3, RFC 5232 §5).
    case keep(flags: [String])
    /// `fileinto`: into this folder, made if missing when `create` (RFC 5490 §3.2).
    case fileInto(folder: String, flags: [String], create: Bool)
    /// `redirect` to this address (RFC 5228 §4.2).
    case redirect(address: String)
    /// `reject` / `ereject` with this reason (RFC 5429).
    case reject(reason: String, extended: Bool)
    /// `discard` (RFC 5228 §4.4): no other action keeps the message.
    case discard
    /// `vacation`: a reply to send (RFC 5230).
    case vacation(VacationReply)
}

/// A vacation reply the script asks for (RFC 5230 §4–5), once the message qualified for one.
public struct VacationReply: Hashable, Sendable {
    /// Whom to answer: the envelope sender.
    public var to: String
    /// The `:from` address, when given.
    public var from: String?
    /// The subject: `:subject`, or "Auto: " and the original's (RFC 5230 §4.3).
    public var subject: String
    /// The reason text (a MIME entity when ``mime``).
    public var reason: String
    /// Whether the reason is a MIME entity (`:mime`).
    public var mime: Bool
    /// What identifies this vacation for the once-per-period rule: `:handle`, or the
    /// reason, subject, from and mime flag together (RFC 5230 §4.2).
    public var handle: String
    /// How long not to answer the same sender again for this handle.
    public var seconds: Int
}

/// What a script may ask of the delivery around it.
public struct SieveEnvironment: Sendable {
    /// Now, in seconds since 1970 (currentdate).
    public var now: Double
    /// The local zone, minutes east of UTC (date tests without :zone).
    public var localZone: Int
    /// Whether a folder exists (mailboxexists, RFC 5490 §3.1).
    public var mailboxExists: @Sendable (String) -> Bool
    /// The recipient's own addresses besides the envelope recipient (vacation's implicit
    /// :addresses, e.g. aliases).
    public var ownAddresses: [String]
    /// The detail separator of subaddresses (RFC 5233 §2).
    public var subaddressSeparator: Character

    /// An environment.
    public init(now: Double, localZone: Int = 0, mailboxExists: @escaping @Sendable (String) -> Bool = { _ in false },
                ownAddresses: [String] = [], subaddressSeparator: Character = "+") {
        self.now = now
        self.localZone = localZone
        self.mailboxExists = mailboxExists
        self.ownAddresses = ownAddresses
        self.subaddressSeparator = subaddressSeparator
    }
}
