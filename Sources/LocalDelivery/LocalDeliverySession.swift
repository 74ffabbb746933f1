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

    init(backend: LocalDeliveryBackend, state: ConnectionState) {
        self.backend = backend
        self.state = state
    }

    func reset() async {
        sender = nil
        mailOptions = MailOptions()
        targets = []
    }

    func logout() async {}

    func mail(from: ReversePath, options: MailOptions) async throws {
        sender = from
        mailOptions = options
        targets = []
    }

    func rcpt(to: Address, options: RcptOptions) async throws {
        let target = try backend.resolver.resolve(to, originalRecipient: options.originalRecipient?.address)
        // With SIZE announced, a recipient the message cannot fit is refused now (RFC 1870 §6.1).
        if let size = mailOptions.size, try await !fits(size, target) {
            throw DeliveryReplies.overQuota(to, quotaTempfail: backend.configuration.quotaTempfail)
        }
        targets.append(target)
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
            targets: unique)

        // The message goes to disk in as few hand-offs to the thread pool as possible, since
        // each costs two thread switches: the spool is opened with the first batch of the body
        // (for most messages the only one), and every link, with its duplicate and quota checks,
        // is made in one more.
        let name = backend.names.next()
        let spool = SpoolWriter(box: SpoolBox(), name: name, header: traceHeader(unique),
                                lineEndings: mailOptions.body == .binaryMIME ? .asReceived : .lf,
                                candidates: unique.map(\.maildir), sync: configuration.fsync)
        var hash = BodyHash()
        var scanner = MessageIDScanner()
        var batch: [ByteBuffer] = []
        var batchBytes = 0
        var spooled: SpooledMessage?
        var spoolIndex: Int?
        var opened = false
        do {
            // Chunks go to the disk thread in batches of up to 256 KiB.
            func write(final: Bool) async throws {
                let chunks = batch
                batch.removeAll(keepingCapacity: true)
                batchBytes = 0
                guard !opened || spoolIndex != nil else { return }   // no mailbox takes it: drain
                let open = !opened
                let result = try await backend.pool.runIfActive { try spool.write(chunks, open: open, final: final) }
                if open {
                    opened = true
                    spoolIndex = result.index
                    for (index, error) in result.openFailures {
                        draft.outcomes[index] = Self.failure(error, unique[index].address, configuration)
                    }
                }
                spooled = result.spooled
            }
            for try await chunk in body {
                chunk.withUnsafeReadableBytes { bytes in
                    hash.update(bytes)
                    scanner.feed(bytes)
                }
                batch.append(chunk)
                batchBytes += chunk.readableBytes
                if batchBytes >= 256 * 1024 { try await write(final: false) }
            }
            try await write(final: true)
        } catch {
            try? await backend.pool.runIfActive { spool.discard() }
            if error is SMTPError || !(error is MaildirError) { throw error }   // the body failed, not the disk
            let failure = Self.failure(error, unique[spoolIndex ?? 0].address, configuration)
            for index in draft.outcomes.indices where draft.outcomes[index] == nil { draft.outcomes[index] = failure }
            _ = try await backend.log.record(draft.finished)
            return uniqueIndex.map { draft.outcomes[$0] }
        }
        guard let spooled else {
            // No mailbox could take the message; it was read anyway so the session stays in step.
            _ = try await backend.log.record(draft.finished)
            return uniqueIndex.map { draft.outcomes[$0] }
        }
        let messageID = scanner.messageID
        let bodyHash = hash.finalize()
        draft.transaction.size = spooled.size
        draft.transaction.messageID = messageID
        draft.transaction.bodySHA256 = bodyHash

        // Link into every recipient's new/, sync them while the log commits, drop the spool:
        // one hand-off. A 250 still waits for both the syncs and the commit.
        let linker = Linker(log: backend.log, configuration: configuration, spooled: spooled, messageID: messageID,
                            bodyHash: bodyHash)
        let pending = unique.indices.filter { draft.outcomes[$0] == nil }.map { ($0, unique[$0]) }
        let (log, logger, linking) = (backend.log, backend.logger, draft)
        let outcomes = try await backend.pool.runIfActive { () -> [SMTPError?] in
            var draft = linking
            let linked = linker.link(pending)
            let delivered = draft.apply(linked)
            let ticket = log.submit(draft.finished)
            let unsynced = linker.sync(linked, pending)
            let committed = Result { try ticket.wait() }
            linker.finish(linked, pending, failed: unsynced)
            switch committed {
            case .failure(let error):
                // Not recorded, so not acknowledged: take the copies back, the client will retry.
                for path in delivered { unlink(path) }
                logger.error("delivery log failed: \(error)")
                return draft.addresses.map(DeliveryReplies.logUnavailable)
            case .success(let id):
                guard !unsynced.isEmpty else { return draft.outcomes }
                // Rows went in as delivered while these copies failed their sync: say so.
                for (index, failure) in unsynced { draft.outcomes[index] = failure }
                let finished = draft.finished
                do {
                    try log.amend(transaction: id, recipients: unsynced.map { finished.recipients[$0.0] })
                } catch {
                    logger.error("delivery log: could not record failed syncs: \(error)")
                }
                return draft.outcomes
            }
        }
        return uniqueIndex.map { outcomes[$0] }
    }

    static func failure(_ error: any Error, _ address: Address, _ configuration: LocalDeliveryConfiguration) -> SMTPError {
        if let error = error as? MaildirError {
            return DeliveryReplies.failure(error, for: address, quotaTempfail: configuration.quotaTempfail)
        }
        return SMTPError(code: 451, enhancedCode: EnhancedCode(4, 3, 0), message: "<\(address)> Temporary local error")
    }

    /// `Return-Path:`, then `Delivered-To:` and a `Received:` with `for` when there is exactly
    /// one recipient (so that one file can be hard-linked to all of them otherwise).
    private func traceHeader(_ unique: [DeliveryTarget]) -> String {
        let configuration = backend.configuration
        var header = "Return-Path: <\(sender?.address?.description ?? "")>\r\n"
        if unique.count == 1 { header += "Delivered-To: \(unique[0].address)\r\n" }
        let client = state.remoteAddress?.ipAddress ?? "local"
        header += "Received: from \(state.hostname ?? "unknown") (\(client))\r\n"
        header += "\tby \(configuration.hostname) (Letterbox) with LMTP id \(state.sessionID)"
        if unique.count == 1 { header += "\r\n\tfor <\(unique[0].address)>" }
        header += "; \(Timestamp.rfc5322(Date()))\r\n"
        return header
    }
}
