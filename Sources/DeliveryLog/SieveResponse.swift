import Foundation

/// A message the agent sent on a recipient's behalf because a Sieve script asked for it, kept so
/// that it is not sent again too soon: a vacation reply is sent to a sender once per `:days` for
/// one handle (RFC 5230 §4.2), and a redirect of one message to one address once, however often
/// the message is delivered again after a failure (Pigeonhole's redirect duplicate period). The
/// `sieve_responses` table holds them until they expire; `letterbox deliveries prune` removes
/// expired ones.
public struct SieveResponse: Sendable, Hashable {
    /// What was sent.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A vacation reply (RFC 5230).
        case vacation
        /// A redirected copy (RFC 5228 §4.2).
        case redirect
    }

    /// The recipient on whose behalf it was sent (the log's canonical address).
    public var recipient: String
    public var kind: Kind
    /// Whom it went to: the sender answered, or the redirect's address.
    public var address: String
    /// What identifies it among the recipient's responses of its kind: the vacation's sender
    /// and handle, or the redirected message and address (a digest, see the agent).
    public var key: String
    /// Until when it is remembered.
    public var expires: Date

    /// A response.
    public init(recipient: String, kind: Kind, address: String, key: String, expires: Date) {
        self.recipient = recipient
        self.kind = kind
        self.address = address
        self.key = key
        self.expires = expires
    }
}
