import DeliveryLog
import Foundation
import Maildir
import NIOCore
import SMTPCore

/// The delivery of one message to a transaction's recipients: the body into a spool in the
/// first Maildir that takes it, then the links into every recipient's `new/`, their syncs and
/// the log's commit (``FinalStep``). It fills in each ``Recipient``'s outcome and never calls
/// back into the session that asked for it.
///
/// The message goes to disk in as few hand-offs to the thread pool as possible, since each
/// costs two thread switches: batches of 256 KiB while the body is longer than that, then one
/// last hand-off for the rest of it, its sync, the links, the `new/` syncs and the log — for
/// most messages the only one.
struct MessageDelivery {
    let backend: LocalDeliveryBackend
    /// The trace fields written before the body.
    let header: [UInt8]
    let lineEndings: StoredLineEndings

    /// How much of the body is gathered before it goes to disk in one hand-off.
    static let batchSize = 256 * 1024

    /// Where the spool stands while the body arrives.
    private enum SpoolState {
        /// No batch has gone to disk yet.
        case unopened
        /// Open in a recipient's Maildir.
        case open
        /// No recipient's Maildir could take it: the rest of the body is read and dropped.
        case refused
    }

    /// Delivers `body` to `draft`'s recipients and returns the draft with every outcome known
    /// and logged. An error thrown by `body` itself (the client aborted, the message is too
    /// large) is rethrown after the spool is discarded; nothing is delivered then.
    func run<Body: AsyncSequence>(_ body: Body, _ draft: TransactionDraft) async throws -> TransactionDraft
    where Body.Element == ByteBuffer {
        let configuration = backend.configuration
        var draft = draft
        let spool = SpoolWriter(box: SpoolBox(), name: backend.names.next(), header: header, lineEndings: lineEndings,
                                candidates: draft.recipients.map { $0.destinations.first?.maildir ?? $0.target.inbox }, sync: configuration.fsync,
                                order: configuration.syncOrder)
        // On its way to its links from now: a delivery that links meanwhile waits for this one
        // (a little) before it syncs, so that one journal commit carries both (LinkGathering).
        let arrival = backend.linkGathering.approach()
        defer { arrival.arrive() }
        var hash = BodyHash()
        var scanner = HeaderScanner()
        var batch: [ByteBuffer] = []
        var batchBytes = 0
        // What the recipients' Sieve scripts read: the trace fields and the message as received,
        // up to a limit; and the whole message's size.
        var sieveCopy: [UInt8]? = backend.sieveScripts == nil ? nil : header
        var receivedSize = header.count
        var state = SpoolState.unopened
        do {
            for try await chunk in body {
                chunk.withUnsafeReadableBytes { bytes in
                    hash.update(bytes)
                    scanner.feed(bytes)
                    if let copied = sieveCopy?.count, copied < TransactionDraft.SieveInput.largestCopy {
                        sieveCopy?.append(contentsOf: bytes.prefix(TransactionDraft.SieveInput.largestCopy - copied))
                    }
                }
                receivedSize += chunk.readableBytes
                batch.append(chunk)
                batchBytes += chunk.readableBytes
                guard batchBytes >= Self.batchSize else { continue }
                // A long message: this batch goes to disk now (opening the spool with the first).
                let chunks = batch
                batch.removeAll(keepingCapacity: true)
                batchBytes = 0
                guard state != .refused else { continue }
                let open = state == .unopened
                let progress = try await backend.pool.runIfActive { try spool.write(chunks, open: open, final: false) }
                if open {
                    draft.spoolRefused(progress.openFailures, quotaTempfail: configuration.quotaTempfail)
                    state = progress.opened ? .open : .refused
                }
            }
        } catch {
            return try await spoolFailed(error, spool, draft)
        }
        if state == .refused {
            // No mailbox could take the message; it was read anyway so the session stays in step.
            _ = try await backend.log.record(draft.finished)
            return draft
        }
        // RFC 5321 §6.3: a message that already went to a recipient here comes back in a loop;
        // it is refused for that recipient (554 5.4.6), as Postfix's local(8) does.
        draft.headerSection = scanner.headerSection
        let deliveredTo = scanner.values(of: "delivered-to")
        if !deliveredTo.isEmpty { draft.refuseLoops(deliveredTo: deliveredTo) }
        let step = FinalStep(spool: spool, chunks: batch, open: state == .unopened, log: backend.log, logger: backend.logger,
                             configuration: configuration, messageID: scanner.messageID, bodyHash: hash.finalize(),
                             gathering: backend.linkGathering, arrival: arrival, metrics: backend.metrics,
                             sieve: sieveInput(sieveCopy, size: receivedSize))
        let linking = draft
        var outcome = try await backend.pool.runIfActive { step.run(linking) }
        if case .sending(var spooled) = outcome {
            // The scripts' messages go out first: a recipient whose redirect fails is not
            // linked, and is told to retry. This delivery no longer gathers with others: it
            // has left them (FinalStep.run) and links alone.
            let submission = SieveSubmission(backend: backend, trace: header, messageID: scanner.messageID,
                                             references: scanner.values(of: "references", first: true).first)
            await submission.send(&spooled.draft, message: spooled.message)
            let sent = spooled
            outcome = try await backend.pool.runIfActive { step.link(sent, gathers: false) }
        }
        switch outcome {
        case .finished(let finished):
            return finished
        case .sending:
            preconditionFailure("linked above")
        case .notSpooled(let notSpooled):
            _ = try await backend.log.record(notSpooled.finished)
            return notSpooled
        case .spoolFailed(let error):
            return try await spoolFailed(error, spool, draft)
        }
    }

    /// The Sieve step's input, when Sieve is configured.
    private func sieveInput(_ copy: [UInt8]?, size: Int) -> TransactionDraft.SieveInput? {
        guard let scripts = backend.sieveScripts, let copy, let settings = backend.configuration.sieve else { return nil }
        return TransactionDraft.SieveInput(scripts: scripts, message: copy, size: size, createFolders: settings.createFolders,
                                           canSend: settings.relay != nil,
                                           now: Date().timeIntervalSince1970, localZone: TimeZone.current.secondsFromGMT() / 60)
    }

    /// The spool failed, or the body did: the spool is discarded. A refused body (too large) is
    /// the reply of every recipient still pending, logged, and rethrown; a disk's failure is
    /// each pending recipient's reply, logged; anything else (the client went away) is rethrown.
    private func spoolFailed(_ error: any Error, _ spool: SpoolWriter, _ draft: TransactionDraft) async throws
        -> TransactionDraft {
        var draft = draft
        try? await backend.pool.runIfActive { spool.discard() }
        if let refusal = error as? SMTPError {
            // A failure to log it changes nothing for the client, who is refused either way.
            draft.failPending { _ in refusal }
            _ = try? await backend.log.record(draft.finished)
            throw error
        }
        guard error is MaildirError else { throw error }
        let quotaTempfail = backend.configuration.quotaTempfail
        draft.failPending { DeliveryReplies.failure(error, for: $0, quotaTempfail: quotaTempfail) }
        _ = try await backend.log.record(draft.finished)
        return draft
    }
}
