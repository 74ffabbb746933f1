import NIOCore
import SMTPCore

// XCLIENT and XFORWARD (Postfix's XCLIENT_README, XFORWARD_README): a trusted proxy asserts the
// client it relays for; an MTA describes the client a message came from.
extension Connection {
    /// Applies XCLIENT attributes (Postfix XCLIENT_README) if the session (``ProxySession``) or
    /// else the backend (``ProxyBackend``) allows it; the real state is kept as `original`.
    func xclient(_ attributes: [XClientAttribute]) async {
        let asserted = Self.applying(attributes, to: state)
        let allowed: Bool
        if let session {
            if let proxySession = session as? any ProxySession,
               proxySession.allowProxy(asserted: asserted, sessionID: state.sessionID) {
                await proxySession.logout()
                self.session = nil
                allowed = true
            } else {
                allowed = false
            }
        } else if let proxyBackend = context.backend as? any ProxyBackend {
            allowed = proxyBackend.allowProxy(actual: state, asserted: asserted, sessionID: state.sessionID)
        } else {
            allowed = false
        }
        guard allowed else {
            queue(machine.xclientRejected())
            return
        }
        state = asserted
        handle.update(state)
        if let remote = asserted.remoteAddress { logger[metadataKey: "smtp.client"] = "\(remote)" }
        let trusted = asserted.remoteAddress.map { address in
            context.configuration.secureNetworks.contains { $0.contains(address) }
        } ?? false
        queue(machine.xclientAccepted(trusted: trusted, authenticated: asserted.proxied["LOGIN"] != nil))
    }

    /// Accepts XFORWARD attributes (Postfix XFORWARD_README) if the backend (``ProxyBackend``)
    /// allows this connection to assert the client they describe, as it would for XCLIENT;
    /// unlike XCLIENT they change nothing about the connection.
    func xforward(_ attributes: [XForwardAttribute]) {
        let described = attributes.compactMap { attribute -> XClientAttribute? in
            XClientAttribute.Name(rawValue: attribute.name.rawValue).map { XClientAttribute(name: $0, value: attribute.value) }
        }
        let allowed = (context.backend as? any ProxyBackend)?.allowProxy(
            actual: state, asserted: Self.applying(described, to: state), sessionID: state.sessionID) ?? false
        queue(allowed ? machine.xforwardAccepted() : machine.xforwardRejected())
    }

    /// The state a proxy asserts: ADDR/PORT replace the remote address, DESTADDR/DESTPORT the
    /// local one, HELO the greeting name; NAME, LOGIN and PROTO are kept in `proxied`.
    /// `[UNAVAILABLE]` and `[TEMPUNAVAIL]` clear a fact.
    static func applying(_ attributes: [XClientAttribute], to state: ConnectionState) -> ConnectionState {
        var asserted = state
        asserted.original = state.original ?? Box(state)
        var values: [XClientAttribute.Name: String] = [:]
        for attribute in attributes {
            switch attribute.value {
            case .value(let value): values[attribute.name] = value
            case .unavailable, .temporarilyUnavailable: values[attribute.name] = ""
            }
        }
        func address(_ ip: String?, _ port: String?, current: SocketAddress?) -> SocketAddress? {
            guard let ip else {
                guard let port, let current, let number = Int(port), let host = current.ipAddress else { return current }
                return try? SocketAddress(ipAddress: host, port: number)
            }
            guard !ip.isEmpty else { return nil }
            let host = ip.uppercased().hasPrefix("IPV6:") ? String(ip.dropFirst(5)) : ip
            return try? SocketAddress(ipAddress: host, port: port.flatMap { Int($0) } ?? current?.port ?? 0)
        }
        if values[.address] != nil || values[.port] != nil {
            asserted.remoteAddress = address(values[.address], values[.port], current: state.remoteAddress)
        }
        if values[.destinationAddress] != nil || values[.destinationPort] != nil {
            asserted.localAddress = address(values[.destinationAddress], values[.destinationPort], current: state.localAddress)
        }
        if let helo = values[.helo] { asserted.hostname = helo.isEmpty ? nil : helo }
        for name in [XClientAttribute.Name.name, .login, .proto] {
            guard let value = values[name] else { continue }
            asserted.proxied[name.rawValue] = value.isEmpty ? nil : value
        }
        return asserted
    }
}
