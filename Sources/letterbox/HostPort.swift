import ArgumentParser

/// `host:port` on the command line (`[::1]:25` for IPv6), shared by every command that takes one.
struct HostPort {
    var host: String
    var port: Int

    /// Parses `text`; `option` names the option in the error.
    init(_ text: String, option: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("\(option) must be host:port")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ValidationError("\(option) must be host:port") }
        self.host = host
        self.port = port
    }
}
