import NIOCore
import SMTPCore
import SMTPTransport

// A message's body: the connection carries out what its ``MessageTransfer`` decides, hands the
// body to the backend as a ``MessageBody``, and reports the outcome.
//
// The order of the replies on the wire (RFC 2033 §4.2, RFC 2920 §3.2): every reply queued
// before the body's end is flushed when the end is read; then, for LMTP, the per-recipient
// replies are written by the ``StatusCollector`` as the backend sets them (in RCPT order, from
// whichever task sets them, through this connection's ``ConnectionIO``), while the
// connection's task writes nothing until the backend has returned; for SMTP, the one reply is
// queued after it. Whatever follows (a command that ended the message between chunks) comes
// after those.
extension Connection {
    func receiveMessage(_ transfer: MessageTransfer) async throws {
        self.transfer = transfer
        let sender = machine.sender
        let recipientCount = machine.recipients.count
        let started = ContinuousClock.now
        if let timeout = context.configuration.dataTimeout { dataDeadline = .now() + TimeAmount(timeout) }
        connectionEnd = nil
        defer {
            self.transfer = MessageTransfer()
            collector = nil
            dataDeadline = nil
        }
        guard let session else {
            // Cannot happen: MAIL created the session. Keep the stream in sync regardless.
            try await drainBody()
            if !self.transfer.endedByProtocol { machine.messageProcessed(.failed(SMTPError.localError)).forEach(queue) }
            return
        }
        let body = MessageBody(connection: self)
        if context.configuration.session.lmtp, let lmtpSession {
            try await receiveLMTPMessage(lmtpSession, body, sender: sender, started: started)
        } else {
            var backendError: (any Error)?
            do {
                try await session.data(body)
            } catch {
                backendError = error
            }
            try await drainBody()
            if !self.transfer.endedByProtocol {
                let outcome: MessageOutcome
                if let failure = self.transfer.failure {
                    outcome = .failed(failure)
                } else if let backendError {
                    outcome = .failed(Self.smtpError(backendError))
                } else {
                    outcome = .accepted
                }
                let replies = machine.messageProcessed(outcome)
                replies.forEach(queue)
                messageEnded(sender: sender, recipients: recipientCount, codes: replies.map(\.code), started: started)
            }
        }
        await session.reset()
        if let pendingAction = self.transfer.takePendingAction() {
            try await perform(pendingAction)
        }
    }

    /// LMTP with per-recipient statuses: the collector writes each reply as soon as the backend
    /// sets it (in RCPT order, after the end of the data).
    private func receiveLMTPMessage(_ session: any LMTPSession, _ body: MessageBody, sender: ReversePath?,
                                    started: ContinuousClock.Instant) async throws {
        let collector = StatusCollector(recipients: machine.recipients, writer: io)
        self.collector = collector
        var backendError: (any Error)?
        do {
            try await session.lmtpData(body, status: collector)
        } catch {
            backendError = error
        }
        do {
            try await drainBody()
        } catch {
            collector.cancel()
            throw error
        }
        if transfer.endedByProtocol {
            collector.cancel()
        } else {
            let statuses = collector.finish(outcome: backendError.map(Self.smtpError))
            if let observer = context.configuration.replyObserver {
                for (recipient, status) in zip(collector.recipients, statuses) {
                    observer(ServerStateMachine.lmtpReply(recipient: recipient, status: status), state)
                }
            }
            // The collector wrote the replies; this only moves the state machine on.
            let moved = machine.messageReplied()
            assert(moved, "the state machine was receiving this message")
            messageEnded(sender: sender, recipients: statuses.count, codes: statuses.map { $0?.code ?? 250 }, started: started)
        }
    }

    /// A message's body was answered: one debug line (sender, recipients, size and the replies'
    /// codes; a program logs its own line at info, knowing what the message was for) and the
    /// metrics (``ServerMetrics``).
    private func messageEnded(sender: ReversePath?, recipients: Int, codes: [Int], started: ContinuousClock.Instant) {
        context.metrics.messageEnded(octets: transfer.octets, codes: codes, elapsed: ContinuousClock.now - started)
        logger.debug("message received", metadata: [
            "smtp.from": "\(sender.map { "<\($0)>" } ?? "<>")",
            "smtp.recipients": "\(recipients)",
            "smtp.octets": "\(transfer.octets)",
            "smtp.replies": "\(codes.map(String.init).joined(separator: ","))",
        ])
    }

    /// The next piece of the message body for ``MessageBody``: carries out the transfer's
    /// actions until it has one, or the body is over.
    nonisolated(nonsending) func nextBodyChunk() async throws -> ByteBuffer? {
        while true {
            switch transfer.next(&input) {
            case .piece(let piece):
                return piece
            case .readMore:
                try await readMoreBody()
            case .reachedEnd:
                if let trace = context.configuration.trace {
                    trace("C: <message data, \(transfer.failure.map { "failed: \($0.message)" } ?? "complete")>")
                }
                try await flush()
                collector?.bodyEnded(failure: transfer.failure)
            case .chunkComplete:
                try await nextChunkCommand()
            case .fail(let failure):
                throw failure
            case .finished:
                return nil
            }
        }
    }

    /// Between BDAT chunks: acknowledges the chunk and reads commands until the transfer goes
    /// on with the next chunk or the message ends (``MessageTransfer/commandBetweenChunks(_:stillReceivingChunks:)``
    /// decides which).
    nonisolated(nonsending) private func nextChunkCommand() async throws {
        queue(machine.chunkProcessed())
        while true {
            let next: FramedLine?
            do {
                next = try await nextLine()
            } catch let end as ConnectionEnd {
                throw endBody(end)
            }
            guard let framed = next else { throw endBody(.lost) }
            let action = process(framed)
            switch transfer.commandBetweenChunks(action, stillReceivingChunks: machine.phase == .receivingChunks) {
            case .nextChunk:
                return
            case .answer(let reply):
                queue(reply)
            case .discard(let size, let replies):
                try await discard(size)
                replies.forEach(queue)
                return
            case .abort:
                machine.messageAborted()
                return
            }
        }
    }

    /// Reads more of the body. When the connection ends (closed, timed out) the backend's
    /// reader fails with an `SMTPError` — `dataReset` for a disconnection, as in go-smtp —
    /// and the real reason is kept for the connection's task.
    nonisolated(nonsending) private func readMoreBody() async throws {
        do {
            if let dataDeadline, NIODeadline.now() > dataDeadline { throw ConnectionEnd.dataTimeout }
            if try await readMore() { return }
            throw ConnectionEnd.lost
        } catch let end as ConnectionEnd {
            throw endBody(end)
        }
    }

    /// Ends the body because the connection ends; returns the error the backend's reader throws.
    private func endBody(_ end: ConnectionEnd) -> SMTPError {
        connectionEnd = end
        let error: SMTPError
        switch end {
        case .lost, .shutdown: error = SMTPError.dataReset
        case .readTimeout, .dataTimeout:
            error = SMTPError(code: 421, enhancedCode: EnhancedCode(4, 4, 2), message: "Timeout while receiving the message")
        }
        transfer.connectionEnded(error)
        return error
    }

    /// Reads whatever the backend left of the body, so the next command is read in sync; ends
    /// the connection's task if the connection ended meanwhile.
    nonisolated(nonsending) private func drainBody() async throws {
        do {
            while try await nextBodyChunk() != nil {}
        } catch {
            // The body's own failure (too large, reset) is the transfer's `failure`.
        }
        if let connectionEnd {
            self.connectionEnd = nil
            throw connectionEnd
        }
    }

    /// Reads and drops a refused chunk's octets.
    nonisolated(nonsending) func discard(_ size: Int) async throws {
        var reader = ChunkReader(size: size)
        while !reader.isComplete {
            if reader.next(&input) == nil {
                guard try await readMore() else { throw ConnectionEnd.lost }
            }
        }
    }
}
