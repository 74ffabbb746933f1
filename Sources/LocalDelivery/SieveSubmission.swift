import DeliveryLog
import Foundation
import Maildir
import NIOCore
import SMTPClient
import SMTPCore
import Sieve

/// Sends what recipients' Sieve scripts ask to send, through the configured relay, before their
/// copies are linked:
/// - `redirect` (RFC 5228 §4.2): the message as spooled, without the agent's `Return-Path:`
///   and with a `Delivered-To:` naming the recipient (so that a redirect that comes back is
///   refused as a loop, RFC 5321 §6.3), from the original envelope sender, as Pigeonhole does.
///   A redirect that fails answers the recipient 451 4.3.0 and links nothing for it, so the
///   MTA delivers again later; those that went out are remembered (``SieveResponse``) and not
///   sent twice.
/// - `vacation` (RFC 5230): the reply (``VacationMessage``) from the null path, unless the
///   sender was answered for the same handle within `:days`; remembered once sent. A reply
///   that cannot be sent is logged and the message is delivered all the same (a vacation
///   reply is a courtesy, never a reason to refuse mail).
struct SieveSubmission {
    let backend: LocalDeliveryBackend
    /// The trace fields at the head of the spooled file.
    let trace: [UInt8]
    /// The message's Message-ID, when it has one.
    let messageID: String?
    /// The message's References field, when it has one (a vacation reply's References go on
    /// from it, RFC 3834 §3.1.5).
    let references: String?

    /// How much of the spooled file is read and sent at a time.
    static let chunkSize = 256 * 1024

    /// The client's settings for the relay: a local MTA answers at once, so each step may take
    /// 30 seconds (connecting 10), as Pigeonhole's `submission_timeout`, well within the time
    /// the MTA waits for this delivery's replies (Postfix's `lmtp_data_done_timeout`, 600 s).
    var relayConfiguration: Client.Configuration {
        Client.Configuration(localName: backend.configuration.hostname, connectTimeout: .seconds(10),
                             commandTimeout: .seconds(30), submissionTimeout: .seconds(30))
    }

    /// Sends every pending recipient's messages, in its scripts' order, and notes each in its
    /// log summary.
    func send(_ draft: inout TransactionDraft, message: SpooledMessage) async {
        guard let relay = backend.configuration.sieve?.relay else { return }
        let sender: ReversePath = Address(draft.transaction.sender).map(ReversePath.mailbox) ?? .null
        for index in draft.recipients.indices where draft.recipients[index].isPending {
            let recipient = draft.recipients[index]
            var notes: [String] = []
            for action in recipient.sends {
                switch action {
                case .redirect(let address):
                    do {
                        notes.append(try await redirect(recipient.target, to: address, from: sender, message: message, relay: relay))
                    } catch {
                        notes.append("redirect to \(address) failed: \(Self.describe(error))")
                        backend.logger.error("Sieve redirect failed: \(Self.describe(error))",
                                             metadata: ["letterbox.to": "<\(recipient.target.address)>", "letterbox.redirect": "<\(address)>"])
                        draft.recipients[index].outcome = .failed(DeliveryReplies.redirectFailed(recipient.target.address, to: address))
                    }
                case .vacation(let reply):
                    notes.append(await vacation(reply, for: recipient.target, relay: relay))
                default:
                    break
                }
                if !draft.recipients[index].isPending { break }
            }
            draft.recipients[index].sieve = ([recipient.sieve].compactMap { $0 }.filter { !$0.isEmpty } + notes)
                .joined(separator: "; ")
        }
    }

    /// Sends the spooled message on to `address`, unless it went there already; what the log
    /// says of it.
    private func redirect(_ target: DeliveryTarget, to address: String, from sender: ReversePath, message: SpooledMessage,
                          relay: LocalDeliveryConfiguration.SieveFiltering.Relay) async throws -> String {
        guard let to = Address(address) else { throw SMTPError(code: 501, enhancedCode: EnhancedCode(5, 1, 3), message: "bad address") }
        // Without a Message-ID one message cannot be told from another: it is sent each time.
        let key = messageID.map { Self.digest(["redirect", $0, address.lowercased()]) }
        let log = backend.log
        if let key, try await backend.pool.runIfActive({
            try log.hasResponded(recipient: target.canonical, kind: .redirect, key: key)
        }) {
            return "redirect to \(address) (sent before)"
        }
        let client = try await Client.connect(to: .tcp(host: relay.host, port: relay.port), configuration: relayConfiguration)
        do {
            let (writer, _) = try await client.beginMessage(from: sender, to: [to], transfer: .data)
            try await writer.write(redirectHeader(for: target))
            // The spooled file from after its first field (the agent's Return-Path, however
            // its lines end in the file), read in chunks on the pool.
            let path = message.path
            var offset = 0
            while true {
                let start = offset
                var chunk = try await backend.pool.runIfActive { try Self.read(path, at: start, count: Self.chunkSize) }
                if chunk.readableBytes == 0 { break }
                offset += chunk.readableBytes
                if start == 0, let end = chunk.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                    chunk.moveReaderIndex(to: end + 1)
                }
                try await writer.write(chunk)
            }
            _ = try await writer.finish()
            try? await client.quit()
            await client.close()
        } catch {
            await client.close()
            throw error
        }
        if let key {
            await remember(SieveResponse(recipient: target.canonical, kind: .redirect, address: address, key: key,
                                         expires: Date(timeIntervalSinceNow: backend.configuration.sieve?.redirectMemory ?? 0)))
        }
        backend.logger.info("Sieve redirect sent", metadata: ["letterbox.to": "<\(target.address)>", "letterbox.redirect": "<\(address)>"])
        return "redirect to \(address)"
    }

    /// The `Delivered-To:` field a redirected copy starts with, unless the trace has it already
    /// (it names the recipient when the message had only one).
    private func redirectHeader(for target: DeliveryTarget) -> [UInt8] {
        let field = Array("Delivered-To: \(target.address)\r\n".utf8)
        return trace.firstRange(of: field) == nil ? field : []
    }

    /// Sends a vacation reply unless the sender was answered within its period; what the log
    /// says of it.
    private func vacation(_ reply: VacationReply, for target: DeliveryTarget,
                          relay: LocalDeliveryConfiguration.SieveFiltering.Relay) async -> String {
        guard let to = Address(reply.to) else { return "vacation: cannot answer \"\(reply.to)\"" }
        let key = Self.digest(["vacation", reply.to.lowercased(), reply.handle])
        let log = backend.log
        do {
            if reply.seconds > 0, try await backend.pool.runIfActive({
                try log.hasResponded(recipient: target.canonical, kind: .vacation, key: key)
            }) {
                return "vacation to \(reply.to) not sent (answered within \(Self.period(reply.seconds)))"
            }
            let octets = VacationMessage(reply: reply, recipient: target.address, inReplyTo: messageID, references: references,
                                         hostname: backend.configuration.hostname).encoded()
            try await Client.sendMail(to: .tcp(host: relay.host, port: relay.port), configuration: relayConfiguration,
                                      tls: .disabled, from: .null, to: [to], message: ByteBuffer(bytes: octets))
        } catch {
            backend.logger.error("Sieve vacation reply not sent: \(Self.describe(error))",
                                 metadata: ["letterbox.to": "<\(target.address)>", "letterbox.vacation": "<\(reply.to)>"])
            return "vacation to \(reply.to) failed: \(Self.describe(error))"
        }
        if reply.seconds > 0 {
            await remember(SieveResponse(recipient: target.canonical, kind: .vacation, address: reply.to, key: key,
                                         expires: Date(timeIntervalSinceNow: TimeInterval(reply.seconds))))
        }
        backend.logger.info("Sieve vacation reply sent", metadata: ["letterbox.to": "<\(target.address)>", "letterbox.vacation": "<\(reply.to)>"])
        return "vacation to \(reply.to)"
    }

    /// Records in the log that `response` was sent; a failure to record it is logged (the
    /// message went out, and may go out once more on a redelivery).
    private func remember(_ response: SieveResponse) async {
        let log = backend.log
        do {
            try await backend.pool.runIfActive { try log.remember(response) }
        } catch {
            backend.logger.error("Sieve \(response.kind.rawValue) sent but not remembered: \(error)",
                                 metadata: ["letterbox.\(response.kind.rawValue)": "<\(response.address)>"])
        }
    }

    /// Up to `count` octets of the file at `path` from `offset`.
    static func read(_ path: String, at offset: Int, count: Int) throws -> ByteBuffer {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw MaildirError(operation: "open", path: path, errno: errno) }
        defer { close(descriptor) }
        var buffer = ByteBuffer()
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { bytes in
            let got = pread(descriptor, bytes.baseAddress, count, off_t(offset))
            guard got >= 0 else { throw MaildirError(operation: "read", path: path, errno: errno) }
            return got
        }
        return buffer
    }

    /// The hex SHA-256 of `parts` joined by NUL: a key of bounded length for any text.
    static func digest(_ parts: [String]) -> String {
        var hash = BodyHash()
        hash.update(Array(parts.joined(separator: "\u{0}").utf8))
        return hash.finalize()
    }

    /// A period in words (`7 days`, `3600 seconds`).
    static func period(_ seconds: Int) -> String {
        seconds % 86400 == 0 ? "\(seconds / 86400) day\(seconds == 86400 ? "" : "s")" : "\(seconds) seconds"
    }

    /// An error as one line of the log.
    static func describe(_ error: any Error) -> String {
        String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
