import NIOCore
import SMTPCore

/// Streams one message to the server after ``Client/data(transfer:)`` or
/// ``Client/beginMessage(from:to:mailOptions:rcptOptions:transfer:)`` (go-smtp's `Data`
/// writer). Nothing is held beyond one buffer: DATA output is dot-stuffed, with every line
/// ending made CRLF (RFC 5321 §4.5.2), and sent in 64 KiB writes; BDAT sends the bytes as they
/// are, in chunks of the configured size (RFC 3030 §2). Call one of the `finish` methods at the
/// end; the client accepts other commands only after that.
public final class MessageWriter {
    enum Mode: Equatable {
        case data
        case bdat(chunkSize: Int)
    }

    private let client: Client
    private let mode: Mode
    private var encoder = DataEncoder()
    private var pending = ByteBuffer()
    private var octets = 0
    private var done = false
    /// DATA output is written once this much is pending.
    static let flushThreshold = 64 * 1024

    init(client: Client, mode: Mode) {
        self.client = client
        self.mode = mode
    }

    /// Appends message bytes.
    public func write(_ buffer: ByteBuffer) async throws {
        guard !done else { throw SMTPClientError.invalidState("the message was already finished") }
        octets += buffer.readableBytes
        switch mode {
        case .data:
            encoder.encode(buffer, into: &pending)
            if pending.readableBytes >= Self.flushThreshold { try await flush() }
        case .bdat(let chunkSize):
            var buffer = buffer
            while buffer.readableBytes > 0 {
                let take = min(buffer.readableBytes, chunkSize - pending.readableBytes)
                var slice = buffer.readSlice(length: take)!
                pending.writeBuffer(&slice)
                if pending.readableBytes == chunkSize { try await sendChunk(last: false) }
            }
        }
    }

    /// Appends message bytes.
    public func write(_ bytes: some Sequence<UInt8>) async throws {
        try await write(ByteBuffer(bytes: bytes))
    }

    /// Appends text, UTF-8 encoded.
    public func write(_ text: String) async throws {
        try await write(ByteBuffer(string: text))
    }

    /// Ends the message and returns the server's reply. In LMTP, every recipient's reply is
    /// read and the first refusal, if any, is thrown; use ``finishWithStatuses()`` to see each.
    @discardableResult
    public func finish() async throws -> Reply {
        let replies = try await end()
        if let refused = replies.first(where: { !$0.isPositiveCompletion }) { throw Client.failure(refused) }
        return replies.last!
    }

    /// Ends the message and returns one status per accepted recipient, in RCPT order: in LMTP
    /// each recipient's own reply (RFC 2033 §4.2), in SMTP the one reply for all of them.
    public func finishWithStatuses() async throws -> [RecipientStatus] {
        let replies = try await end()
        let recipients = client.recipients
        if client.isLMTP {
            return zip(recipients, replies).map { RecipientStatus(recipient: $0, reply: $1) }
        }
        return recipients.map { RecipientStatus(recipient: $0, reply: replies[0]) }
    }

    /// Ends the message and calls `status` for each recipient's outcome as soon as its reply
    /// arrives (go-smtp's `LMTPData` callback: `nil` for a positive reply): in LMTP, recipient
    /// by recipient in RCPT order (RFC 2033 §4.2), before the next reply is read; in SMTP, for
    /// every recipient once the one reply is in.
    public func finish(status: (Address, SMTPError?) -> Void) async throws {
        let recipients = client.recipients
        let lmtp = client.isLMTP
        _ = try await end { index, reply in
            let error = reply.isPositiveCompletion ? nil : reply.error
            if lmtp {
                status(recipients[index], error)
            } else {
                for recipient in recipients { status(recipient, error) }
            }
        }
    }

    /// Sends the end of the message and reads the reply (LMTP: one per recipient), handing each
    /// to `each` as it is read.
    private func end(each: (Int, Reply) -> Void = { _, _ in }) async throws -> [Reply] {
        guard !done else { throw SMTPClientError.invalidState("the message was already finished") }
        done = true
        defer { client.writing = false }
        switch mode {
        case .data:
            encoder.finish(into: &pending)
            try await flush()
            client.transport.traceData(".")
        case .bdat:
            try await sendChunk(last: true)
        }
        let count = client.isLMTP ? client.recipients.count : 1
        var replies: [Reply] = []
        for index in 0..<count {
            let reply = try await client.transport.readReply(timeout: client.configuration.submissionTimeout)
            replies.append(reply)
            each(index, reply)
        }
        return replies
    }

    private func flush() async throws {
        guard pending.readableBytes > 0 else { return }
        client.transport.traceData("<\(pending.readableBytes) octets of message data>")
        try await client.transport.write(pending)
        pending.clear()
    }

    /// Sends the pending bytes as one BDAT chunk; reads the reply of a chunk that is not the last.
    private func sendChunk(last: Bool) async throws {
        let size = pending.readableBytes
        let line = Command.bdat(size: size, last: last).line
        var wire = ByteBuffer()
        wire.writeString(line + "\r\n")
        wire.writeBuffer(&pending)
        pending.clear()
        client.transport.traceData(line + " <\(size) octets>")
        try await client.transport.write(wire)
        guard !last else { return }
        let reply = try await client.transport.readReply(timeout: client.configuration.commandTimeout)
        guard reply.code == 250 else {
            done = true
            client.writing = false
            throw Client.failure(reply)
        }
    }
}
