import SMTPCore

extension Client {
    /// The verbs whose state the client keeps itself: ``rawCommand(_:)`` refuses them, so that
    /// the client's idea of the session never disagrees with the server's.
    static let managedVerbs: Set<String> = ["HELO", "EHLO", "LHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "QUIT"]

    /// Sends one command line of the caller's and returns the server's reply, whatever its
    /// code (go-smtp's `Client.Text` role): for XCLIENT, XFORWARD, ETRN or a vendor's verb. The
    /// line is refused before anything is sent when it holds CR or LF (no command injection),
    /// when it is empty, while a message is being written, or when its verb is one the client
    /// keeps state for (HELO, EHLO, LHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, BDAT, RSET, QUIT:
    /// use their own methods). Greets first if that has not happened (most servers want EHLO
    /// before an extension's command). A multi-line reply comes back whole.
    public func rawCommand(_ line: String) async throws -> Reply {
        let verb = line.split(separator: " ", maxSplits: 1).first.map { $0.uppercased() } ?? ""
        guard !verb.isEmpty else { throw SMTPClientError.invalidArgument("an empty command line") }
        guard !Self.managedVerbs.contains(verb) else {
            throw SMTPClientError.invalidArgument("\(verb) changes the client's state: use its own method")
        }
        try Self.checkLine(line)
        try checkUsable()
        try await ensureHello()
        return try await command(line)
    }

    /// The attributes XCLIENT may carry (Postfix's XCLIENT_README).
    static let xclientAttributes: Set<String> = ["NAME", "ADDR", "PORT", "PROTO", "HELO", "LOGIN", "DESTADDR", "DESTPORT"]

    /// Sends XCLIENT with `attributes` (name, value; Postfix's XCLIENT_README, as go-smtp's
    /// server takes it): a proxy telling the server who the real client is. The values are
    /// xtext-encoded (RFC 3461 §4); `[UNAVAILABLE]` and `[TEMPUNAVAIL]` pass as they are.
    /// Throws ``SMTPClientError/extensionNotSupported(_:)`` when the server does not offer
    /// XCLIENT or an attribute it did not list, and the server's refusal when it refuses. On
    /// success Postfix's smtpd greets anew (220): the client then forgets its greeting and
    /// capabilities, and the next command sends EHLO again. A 250 (the first XCLIENT, still
    /// Postfix's smtp-sink) leaves the session as it was.
    public func xclient(_ attributes: [(name: String, value: String)]) async throws {
        try await ensureHello()
        guard let offered = capabilities["XCLIENT"] else { throw SMTPClientError.extensionNotSupported("XCLIENT") }
        let listed = Set(offered.parameters.map { $0.uppercased() })
        var words = ["XCLIENT"]
        for (name, value) in attributes {
            let upper = name.uppercased()
            guard Self.xclientAttributes.contains(upper) else { throw SMTPClientError.invalidArgument("unknown XCLIENT attribute \(name)") }
            guard listed.isEmpty || listed.contains(upper) else { throw SMTPClientError.extensionNotSupported("XCLIENT \(upper)") }
            let encoded = value == "[UNAVAILABLE]" || value == "[TEMPUNAVAIL]" ? value : XText.encode(value)
            words.append(upper + "=" + encoded)
        }
        guard words.count > 1 else { throw SMTPClientError.invalidArgument("XCLIENT needs at least one attribute") }
        let line = words.joined(separator: " ")
        try Self.checkLine(line)
        let reply = try await command(line)
        switch reply.code {
        case 220: forgetHello()
        case 250: break
        default: throw Self.failure(reply)
        }
    }

    /// Sends XFORWARD with `attributes` (Postfix's XFORWARD_README): an MTA telling the server
    /// which client the next message came from, as Postfix's smtp and lmtp clients do with
    /// `smtp_send_xforward_command`. Throws ``SMTPClientError/extensionNotSupported(_:)`` when
    /// the server does not offer XFORWARD or an attribute it did not list, the server's refusal
    /// when it refuses (503 inside a transaction: the attributes are for the next one). The
    /// server forgets them when that transaction ends.
    public func xforward(_ attributes: [XForwardAttribute]) async throws {
        guard !attributes.isEmpty else { throw SMTPClientError.invalidArgument("XFORWARD needs at least one attribute") }
        try checkUsable()
        try await ensureHello()
        guard let offered = capabilities["XFORWARD"] else { throw SMTPClientError.extensionNotSupported("XFORWARD") }
        let listed = Set(offered.parameters.map { $0.uppercased() })
        if let missing = attributes.first(where: { !listed.isEmpty && !listed.contains($0.name.rawValue) }) {
            throw SMTPClientError.extensionNotSupported("XFORWARD \(missing.name.rawValue)")
        }
        let line = Command.xforward(attributes).line
        try Self.checkLine(line)
        try await command(line, expecting: 250...250)
    }
}
