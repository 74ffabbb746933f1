import NIOCore
import NIOPosix
import SASL
import SMTPCore

extension Client {
    /// When ``Client/sendMail(to:configuration:tls:auth:from:to:mailOptions:rcptOptions:message:eventLoopGroup:)`` uses TLS.
    public enum TLSPolicy: Sendable, Hashable {
        /// STARTTLS whenever the server offers it; plaintext otherwise.
        case opportunistic
        /// TLS or nothing: without STARTTLS (or with a failed handshake) the message is not sent
        /// and ``SMTPClientError/tlsRequired`` is thrown. Never falls back to plaintext.
        case required
        /// Never STARTTLS (a local LMTP socket, or a TLS endpoint already).
        case disabled
    }

    /// Sends one message in one session (go-smtp's `SendMail`): connects, upgrades with
    /// STARTTLS according to `tls`, authenticates when `auth` is given, runs one transaction
    /// (pipelined when offered) and quits. Returns the outcome of every recipient: for SMTP the
    /// RCPT refusals and, for the accepted ones, the reply after the data; for LMTP each
    /// recipient's own reply. Throws when nothing was accepted at all.
    ///
    /// `message` is an RFC 5322 message (headers, blank line, body); its line endings are made
    /// CRLF and leading dots doubled on the way.
    @discardableResult
    public static func sendMail(to endpoint: Endpoint, configuration: Configuration = Configuration(),
                                tls: TLSPolicy = .opportunistic, auth: (any SASLClientMechanism)? = nil,
                                from: ReversePath, to recipients: [Address], mailOptions: MailOptions = MailOptions(),
                                rcptOptions: RcptOptions = RcptOptions(), message: ByteBuffer,
                                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> [RecipientStatus] {
        let client = try await connect(to: endpoint, configuration: configuration, eventLoopGroup: eventLoopGroup)
        do {
            let statuses = try await client.send(tls: tls, auth: auth, from: from, to: recipients,
                                                 mailOptions: mailOptions, rcptOptions: rcptOptions, message: message)
            try? await client.quit()
            await client.close()
            return statuses
        } catch {
            await client.close()
            throw error
        }
    }

    /// The message's size counting every line ending as CRLF, as SIZE wants it (RFC 1870 §3).
    static func transmittedSize(_ message: ByteBuffer) -> Int {
        var size = message.readableBytes
        var previous: UInt8 = 0
        for byte in message.readableBytesView {
            if byte == 0x0A && previous != 0x0D { size += 1 }
            if previous == 0x0D && byte != 0x0A { size += 1 }
            previous = byte
        }
        if previous == 0x0D { size += 1 }
        return size
    }

    /// The session of ``sendMail(to:configuration:tls:auth:from:to:mailOptions:rcptOptions:message:eventLoopGroup:)``
    /// on a connected client, without QUIT.
    public func send(tls: TLSPolicy = .opportunistic, auth: (any SASLClientMechanism)? = nil,
                     from: ReversePath, to recipients: [Address], mailOptions: MailOptions = MailOptions(),
                     rcptOptions: RcptOptions = RcptOptions(), message: ByteBuffer) async throws -> [RecipientStatus] {
        try await ensureHello()
        if tls != .disabled, tlsConnectionState == nil {
            if capabilities.contains("STARTTLS") {
                do {
                    try await startTLS()
                } catch {
                    if tls == .required { throw SMTPClientError.tlsRequired }
                    throw error
                }
            } else if tls == .required {
                throw SMTPClientError.tlsRequired
            }
        }
        if let auth { try await self.auth(auth) }
        var mailOptions = mailOptions
        if mailOptions.size == nil, capabilities.contains("SIZE") { mailOptions.size = Self.transmittedSize(message) }
        let (writer, rcptStatuses) = try await beginMessage(from: from, to: recipients, mailOptions: mailOptions,
                                                            rcptOptions: rcptOptions)
        try await writer.write(message)
        let delivered = try await writer.finishWithStatuses()
        // Each recipient once, in the order given: its RCPT refusal or its final outcome.
        var final: [Address: RecipientStatus] = [:]
        for status in delivered where final[status.recipient] == nil { final[status.recipient] = status }
        return rcptStatuses.map { $0.accepted ? (final[$0.recipient] ?? $0) : $0 }
    }
}
