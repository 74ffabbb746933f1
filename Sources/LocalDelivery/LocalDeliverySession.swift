import DeliveryLog
import Foundation
import Logging
import Maildir
import NIOCore
import SMTPCore
import SMTPServer
import Synchronization

/// One LMTP session of the delivery agent.
final class LocalDeliverySession: LMTPSession {
    private let backend: LocalDeliveryBackend
    private let state: ConnectionState
    private var sender: ReversePath?
    private var mailOptions = MailOptions()
    /// The accepted recipients, in RCPT order.
    private var targets: [DeliveryTarget] = []
    /// The recipients refused at RCPT (by the agent or by the server), with their replies:
    /// recorded with the transaction's other recipients, or on their own when no message
    /// follows (``recordRefusals()``).
    private var refused: [RecipientRecord] = []
    /// When MAIL started the transaction: the time of its refusals' rows.
    private var started = Date()

    init(backend: LocalDeliveryBackend, state: ConnectionState) {
        self.backend = backend
        self.state = state
    }

    func reset() async {
        await recordRefusals()
        sender = nil
        mailOptions = MailOptions()
        targets = []
    }

    func logout() async {
        await recordRefusals()
    }

    func mail(from: ReversePath, options: MailOptions) async throws {
        await recordRefusals()
        sender = from
        mailOptions = options
        targets = []
        started = Date()
    }

    func rcpt(to: Address, options: RcptOptions) async throws {
        let resolver = backend.resolver
        var target: DeliveryTarget
        do {
            target = try await resolver.resolve(to, originalRecipient: options.originalRecipient?.address)
            target.notifySuccess = options.notify?.contains(.success) == true
            target.originalRecipientParameter = options.originalRecipient
        } catch {
            refuse(resolver.recordedName(to), options, error)
            throw error
        }
        // With SIZE announced, a recipient the message cannot fit is refused now (RFC 1870 §6.1).
        do {
            if let size = mailOptions.size, try await !fits(size, target) {
                throw DeliveryReplies.overQuota(to, quotaTempfail: backend.configuration.quotaTempfail)
            }
        } catch {
            refuse(target.canonical, options, error as? SMTPError ?? DeliveryReplies.localError(to))
            throw error
        }
        targets.append(target)
    }

    func recipientRefused(_ to: Address, options: RcptOptions, error: SMTPError) async {
        refuse(backend.resolver.recordedName(to), options, error)
    }

    /// Notes a refusal at RCPT for the log.
    private func refuse(_ recipient: String, _ options: RcptOptions, _ error: SMTPError) {
        refused.append(DeliveryReplies.refusalRecord(recipient: recipient, originalRecipient: options.originalRecipient?.address,
                                                     error))
    }

    /// Records the refusals of a transaction that ends without a message (every recipient
    /// refused, or the client gave up before DATA), as a transaction of their own: the log
    /// keeps every recipient's outcome. A log that fails is reported, not retried: the
    /// client's replies were given already.
    private func recordRefusals() async {
        guard !refused.isEmpty else { return }
        let record = TransactionRecord(sessionID: state.sessionID, time: started,
                                       clientAddress: state.remoteAddress?.ipAddress ?? "local", helo: state.hostname,
                                       sender: sender?.address?.description ?? "", size: 0,
                                       host: backend.configuration.hostname, recipients: refused)
        refused = []
        do {
            _ = try await backend.log.record(record)
        } catch {
            backend.logger.error("delivery log: refused recipients not recorded: \(error)")
        }
    }

    /// Whether `size` more octets stay within the target's quota (always, without one).
    private func fits(_ size: Int, _ target: DeliveryTarget) async throws -> Bool {
        guard target.quota != nil else { return true }
        return try await backend.pool.runIfActive { try Linker.fits(size, target) }
    }

    func data(_ body: MessageBody) async throws {
        if let failure = try await deliver(body).compactMap({ $0 }).first { throw failure }
    }

    func lmtpData(_ body: MessageBody, status: StatusCollector) async throws {
        for (position, reply) in try await deliver(body).enumerated() {
            status.setStatus(at: position, reply)
        }
    }

    /// Delivers the message to the accepted recipients; returns one reply per accepted RCPT,
    /// in order (`nil`: delivered or suppressed as a duplicate). An error thrown by `body`
    /// itself (the client aborted, the message is too large) is rethrown; nothing is
    /// delivered then.
    func deliver<Body: AsyncSequence>(_ body: Body) async throws -> [SMTPError?] where Body.Element == ByteBuffer {
        let transaction = TransactionRecord(sessionID: state.sessionID, time: Date(),
                                            clientAddress: state.remoteAddress?.ipAddress ?? "local", helo: state.hostname,
                                            sender: sender?.address?.description ?? "", size: 0,
                                            host: backend.configuration.hostname, recipients: [])
        let draft = TransactionDraft(transaction, accepted: targets, refused: refused)
        refused = []   // recorded with this message
        let header = TraceFields(sender: sender, helo: state.hostname, clientAddress: state.remoteAddress?.ipAddress,
                                 host: backend.configuration.hostname, sessionID: state.sessionID)
            .encoded(recipients: draft.recipients.map { ($0.target.address, $0.target.originalRecipient) })
        let delivery = MessageDelivery(backend: backend, header: header,
                                       lineEndings: mailOptions.body == .binaryMIME ? .asReceived : .lf)
        let finished = try await delivery.run(body, draft)
        Self.logMessage(finished.finished, logger: backend.logger)
        let notify = finished.recipients.filter { $0.target.notifySuccess && [.delivered, .duplicate].contains($0.record.status) }
        if !notify.isEmpty, let to = sender?.address {
            let notice = SuccessNotice.compose(
                to: to, recipients: notify.map { .init(final: $0.target.address.description, original: $0.target.originalRecipientParameter) },
                envelopeID: mailOptions.envelopeID, headerSection: finished.headerSection,
                reportingHost: backend.configuration.hostname, messageID: backend.names.next(), arrival: transaction.time)
            backend.submitNotice(notice, to: to)
        }
        return finished.replies
    }

    /// The agent's line for each message, at info: who sent it, its Message-ID and size, and
    /// every recipient with its reply code and status (those refused at RCPT included).
    static func logMessage(_ transaction: TransactionRecord, logger: Logger) {
        logger.info("message", metadata: [
            "letterbox.session": "\(transaction.sessionID)",
            "letterbox.from": "<\(transaction.sender)>",
            "letterbox.message_id": "\(transaction.messageID ?? "-")",
            "letterbox.size": "\(transaction.size)",
            "letterbox.recipients": "\(transaction.recipients.map { "\($0.recipient)=\($0.code)/\($0.status.rawValue)" }.joined(separator: " "))",
        ])
    }
}
