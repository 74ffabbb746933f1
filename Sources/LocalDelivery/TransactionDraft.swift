import DeliveryLog
import Maildir
import SMTPCore

/// The log's record of a transaction while it is delivered: one recipient record and one
/// outcome (`nil`: delivered or suppressed as a duplicate) per distinct recipient, filled in as
/// the steps finish.
struct TransactionDraft: Sendable {
    /// The transaction; its `recipients` are filled in by ``finished``.
    var transaction: TransactionRecord
    /// The recipients' records so far.
    var records: [RecipientRecord]
    /// The recipients' outcomes so far.
    var outcomes: [SMTPError?]
    /// The recipients' addresses, for reply texts.
    let addresses: [Address]
    /// The transaction's recipients refused at RCPT, recorded after the others.
    let refused: [RecipientRecord]

    init(_ transaction: TransactionRecord, targets: [DeliveryTarget], refused: [RecipientRecord] = []) {
        self.transaction = transaction
        self.refused = refused
        records = targets.map { target in
            RecipientRecord(recipient: target.canonical, originalRecipient: target.originalRecipient, mailbox: target.inbox.path,
                            status: .deferred, code: 451, enhancedCode: "4.3.0", text: "")
        }
        outcomes = Array(repeating: nil, count: targets.count)
        addresses = targets.map(\.address)
    }

    /// Takes in the linker's results; returns the paths of the copies made.
    mutating func apply(_ linked: [(Int, Linker.Outcome)]) -> [String] {
        var delivered: [String] = []
        for (index, outcome) in linked {
            records[index].duration = outcome.duration
            switch outcome.result {
            case .duplicate:
                records[index].status = .duplicate
                records[index].code = 250
                records[index].enhancedCode = "2.0.0"
                records[index].text = DeliveryReplies.duplicateText(addresses[index])
            case .delivered(let path, let maildir):
                delivered.append(path)
                // The name after the last "/", found on the octets: splitting the path into
                // Characters cost more than the rest of the bookkeeping together.
                let file = path.utf8.lastIndex(of: UInt8(ascii: "/")).map { String(path[path.index(after: $0)...]) } ?? path
                records[index].status = .delivered
                records[index].code = 250
                records[index].enhancedCode = "2.0.0"
                records[index].text = DeliveryReplies.deliveredText(addresses[index], file: file)
                records[index].file = file
                records[index].folder = maildir.folderName
                records[index].mailbox = maildir.path
            case .failed(let failure):
                outcomes[index] = failure
            }
        }
        return delivered
    }

    /// The transaction as logged: each recipient that failed carries its reply; those refused
    /// at RCPT follow the others (so that a recipient's index stays its place in `records`).
    var finished: TransactionRecord {
        var transaction = transaction
        transaction.recipients = records
        for (index, outcome) in outcomes.enumerated() {
            guard let outcome else { continue }
            DeliveryReplies.record(outcome, in: &transaction.recipients[index])
        }
        transaction.recipients += refused
        return transaction
    }
}
