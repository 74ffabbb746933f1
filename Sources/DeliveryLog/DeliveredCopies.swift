import Foundation

extension DeliveryLog {
    /// The copies of the message with this Message-ID and body hash delivered at or after
    /// `since`, by recipient: what the duplicate check asks, once per message whatever its
    /// number of recipients (one read transaction instead of one per recipient: with five
    /// recipients, four fewer rounds of the WAL's shared-memory locks and of the index pages a
    /// reader re-reads after every commit).
    ///
    /// It blocks the calling thread for one read (a few microseconds from the index): call it
    /// where blocking is expected, as the delivery agent does on its disk thread, in the same
    /// hand-off as the links.
    public func deliveredCopies(messageID: String, bodySHA256: String, since: Date) throws -> DeliveredCopies {
        try engine.deliveredCopies(messageID: messageID, bodySHA256: bodySHA256, since: since)
    }

    /// ``deliveredCopies(messageID:bodySHA256:since:)`` started now, answered by the lookup's
    /// ``CopiesLookup/wait()``: on PostgreSQL the query leaves at once, so its round trip
    /// overlaps what the caller does meanwhile (the agent syncs the spool); on SQLite the read
    /// is made by `wait()`, on the calling thread, as before.
    public func startDeliveredCopies(messageID: String, bodySHA256: String, since: Date) -> CopiesLookup {
        engine.startDeliveredCopies(messageID: messageID, bodySHA256: bodySHA256, since: since)
    }

    /// Whether `recipient` already got the message with this Message-ID and body hash at or
    /// after `since`, and still has that copy (``deliveredCopies(messageID:bodySHA256:since:)``
    /// for one recipient).
    public func alreadyDelivered(recipient: String, messageID: String, bodySHA256: String, since: Date,
                                 isPresent: (_ mailbox: String, _ file: String) -> Bool) throws -> Bool {
        try deliveredCopies(messageID: messageID, bodySHA256: bodySHA256, since: since).hasCopy(for: recipient, isPresent: isPresent)
    }
}

/// A duplicate check under way (``DeliveryLog/startDeliveredCopies(messageID:bodySHA256:since:)``).
public struct CopiesLookup: Sendable {
    private let answer: @Sendable () throws -> DeliveredCopies

    /// A lookup whose answer `answer` gives (blocking, when it must wait for it).
    package init(_ answer: @escaping @Sendable () throws -> DeliveredCopies) {
        self.answer = answer
    }

    /// Blocks until the answer is there; call it once.
    public func wait() throws -> DeliveredCopies {
        try answer()
    }
}

/// The delivered copies of one message, by recipient (``DeliveryLog/deliveredCopies(messageID:bodySHA256:since:)``).
public struct DeliveredCopies: Sendable {
    /// Where one copy was delivered.
    public struct Copy: Sendable, Hashable {
        /// The Maildir.
        public var mailbox: String
        /// The file's name in its `new/`.
        public var file: String
    }

    let byRecipient: [String: [Copy]]

    /// Whether `recipient` got the message and still has a copy: `isPresent(mailbox, file)` is
    /// asked about each of its copies, until one is there.
    ///
    /// A row alone is not proof: the agent commits a transaction's row while the recipients'
    /// `new/` are being synced, so after a power failure a row can name a copy that never
    /// became durable — for a delivery that never got its 250, which the client sends again
    /// and which must then be delivered, not suppressed.
    public func hasCopy(for recipient: String, isPresent: (_ mailbox: String, _ file: String) -> Bool) -> Bool {
        byRecipient[recipient]?.contains { isPresent($0.mailbox, $0.file) } ?? false
    }
}
