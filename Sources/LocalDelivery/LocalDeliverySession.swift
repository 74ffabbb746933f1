import DeliveryLog
import Foundation
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
        let target: DeliveryTarget
        do {
            target = try resolver.resolve(to, originalRecipient: options.originalRecipient?.address)
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
                                       sender: sender?.address?.description ?? "", size: 0, recipients: refused)
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
        let outcomes = try await deliver(body)
        if let failure = outcomes.compactMap({ $0 }).first { throw failure }
    }

    func lmtpData(_ body: MessageBody, status: StatusCollector) async throws {
        for (index, outcome) in try await deliver(body).enumerated() {
            status.setStatus(at: index, outcome)
        }
    }

    // MARK: - The pipeline

    /// One outcome per accepted RCPT (`nil`: delivered or suppressed as a duplicate). An error
    /// thrown by `body` itself (the client aborted, the message is too large) is rethrown after
    /// the spool is discarded; nothing is delivered then.
    func deliver<Body: AsyncSequence>(_ body: Body) async throws -> [SMTPError?] where Body.Element == ByteBuffer {
        let configuration = backend.configuration
        let started = Date()
        // A recipient given twice gets one copy and the same answer twice.
        var unique: [DeliveryTarget] = []
        var uniqueIndex: [Int] = []
        for target in targets {
            if let existing = unique.firstIndex(where: { $0.canonical == target.canonical && $0.maildir == target.maildir }) {
                uniqueIndex.append(existing)
            } else {
                uniqueIndex.append(unique.count)
                unique.append(target)
            }
        }
        var draft = TransactionDraft(
            TransactionRecord(sessionID: state.sessionID, time: started, clientAddress: state.remoteAddress?.ipAddress ?? "local",
                              helo: state.hostname, sender: sender?.address?.description ?? "", size: 0, recipients: []),
            targets: unique, refused: refused)
        refused = []   // recorded with this message

        // The message goes to disk in as few hand-offs to the thread pool as possible, since
        // each costs two thread switches: batches of 256 KiB while the body is longer than
        // that, then one last hand-off (`FinalStep`) for the rest of it, its sync, the links,
        // the new/ syncs and the log — for most messages the only one.
        let name = backend.names.next()
        let spool = SpoolWriter(box: SpoolBox(), name: name, header: traceHeader(unique),
                                lineEndings: mailOptions.body == .binaryMIME ? .asReceived : .lf,
                                candidates: unique.map(\.maildir), sync: configuration.fsync,
                                order: configuration.syncOrder)
        // On its way to its links from now: a delivery that links meanwhile waits for this one
        // (a little) before it syncs, so that one journal commit carries both (LinkGathering).
        let arrival = backend.linkGathering.approach()
        defer { arrival.arrive() }
        var hash = BodyHash()
        var scanner = MessageIDScanner()
        var batch: [ByteBuffer] = []
        var batchBytes = 0
        var opened = false
        var spoolIndex: Int?
        /// The spool failed: every recipient still pending gets the disk's error, and that is logged.
        func spoolFailed(_ error: any Error) async throws -> [SMTPError?] {
            try? await backend.pool.runIfActive { spool.discard() }
            if let refusal = error as? SMTPError {
                // The body was refused (too large): the client gets this reply for every
                // recipient, and the log says so. A failure to log it changes nothing for the
                // client, who is refused either way.
                for index in draft.outcomes.indices where draft.outcomes[index] == nil { draft.outcomes[index] = refusal }
                _ = try? await backend.log.record(draft.finished)
                throw error
            }
            if !(error is MaildirError) { throw error }   // the body failed (the client went away), not the disk
            let failure = Self.failure(error, unique[spoolIndex ?? 0].address, configuration)
            for index in draft.outcomes.indices where draft.outcomes[index] == nil { draft.outcomes[index] = failure }
            _ = try await backend.log.record(draft.finished)
            return uniqueIndex.map { draft.outcomes[$0] }
        }
        do {
            for try await chunk in body {
                chunk.withUnsafeReadableBytes { bytes in
                    hash.update(bytes)
                    scanner.feed(bytes)
                }
                batch.append(chunk)
                batchBytes += chunk.readableBytes
                guard batchBytes >= 256 * 1024 else { continue }
                // A long message: this batch goes to disk now (opening the spool with the first).
                let chunks = batch
                batch.removeAll(keepingCapacity: true)
                batchBytes = 0
                guard !opened || spoolIndex != nil else { continue }   // no mailbox takes it: drain
                let open = !opened
                let result = try await backend.pool.runIfActive { try spool.write(chunks, open: open, final: false) }
                if open {
                    opened = true
                    spoolIndex = result.index
                    for (index, error) in result.openFailures {
                        draft.outcomes[index] = Self.failure(error, unique[index].address, configuration)
                    }
                }
            }
        } catch {
            return try await spoolFailed(error)
        }
        if opened && spoolIndex == nil {
            // No mailbox could take the message; it was read anyway so the session stays in step.
            _ = try await backend.log.record(draft.finished)
            return uniqueIndex.map { draft.outcomes[$0] }
        }
        let step = FinalStep(spool: spool, chunks: batch, open: !opened, log: backend.log, logger: backend.logger,
                             configuration: configuration, targets: unique, messageID: scanner.messageID,
                             bodyHash: hash.finalize(), gathering: backend.linkGathering, arrival: arrival)
        let linking = draft
        switch try await backend.pool.runIfActive({ step.run(linking) }) {
        case .finished(let outcomes):
            return uniqueIndex.map { outcomes[$0] }
        case .notSpooled(let notSpooled):
            draft = notSpooled
            _ = try await backend.log.record(draft.finished)
            return uniqueIndex.map { draft.outcomes[$0] }
        case .spoolFailed(let error):
            return try await spoolFailed(error)
        }
    }

    static func failure(_ error: any Error, _ address: Address, _ configuration: LocalDeliveryConfiguration) -> SMTPError {
        if let error = error as? MaildirError {
            return DeliveryReplies.failure(error, for: address, quotaTempfail: configuration.quotaTempfail)
        }
        return DeliveryReplies.localError(address)
    }

    /// `Return-Path:`, then `Delivered-To:` and a `Received:` with `for` when there is exactly
    /// one recipient (so that one file can be hard-linked to all of them otherwise), as the
    /// octets the spool writes.
    private func traceHeader(_ unique: [DeliveryTarget]) -> [UInt8] {
        let configuration = backend.configuration
        // Appended as octets into one reserved array: appending to a String went through its
        // general append path for each piece (16.6k instructions per message in all).
        var header: [UInt8] = []
        header.reserveCapacity(320)
        func append(_ text: String) {
            header.append(contentsOf: text.utf8)
        }
        func append(_ address: Address) {
            append(address.localPart)
            if !address.domain.isEmpty {
                header.append(UInt8(ascii: "@"))
                append(address.domain)
            }
        }
        append("Return-Path: <")
        if let address = sender?.address { append(address) }
        append(">\r\n")
        if unique.count == 1 {
            append("Delivered-To: ")
            append(unique[0].address)
            append("\r\n")
        }
        append("Received: from ")
        append(state.hostname ?? "unknown")
        append(" (")
        append(state.remoteAddress?.ipAddress ?? "local")
        append(")\r\n\tby ")
        append(configuration.hostname)
        append(" (Letterbox) with LMTP id ")
        append(state.sessionID)
        if unique.count == 1 {
            append("\r\n\tfor <")
            append(unique[0].address)
            append(">")
        }
        append("; ")
        Timestamp.appendRFC5322(Date(), to: &header)
        append("\r\n")
        return header
    }
}
