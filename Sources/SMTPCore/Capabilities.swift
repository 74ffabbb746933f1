/// One line of an EHLO/LHLO reply: an extension keyword and its parameters
/// (`ehlo-line = ehlo-keyword *( SP ehlo-param )`, RFC 5321 §4.1.1.1).
public struct Capability: Hashable, Sendable, CustomStringConvertible {
    /// The keyword, upper-cased (keywords are case-insensitive).
    public var keyword: String
    /// The parameters as sent.
    public var parameters: [String]

    /// Creates a capability.
    public init(_ keyword: String, _ parameters: [String] = []) {
        self.keyword = keyword.uppercased()
        self.parameters = parameters
    }

    /// `KEYWORD param param`.
    public var description: String { ([keyword] + parameters).joined(separator: " ") }
}

/// The extensions a server announces in its EHLO/LHLO reply, in order (RFC 5321 §4.1.1.1).
///
/// The server builds one from its configuration and sends ``reply(greetingLine:)``; the
/// client parses the server's reply with ``init(ehloReply:)`` and asks ``contains(_:)``.
public struct Capabilities: Hashable, Sendable, Sequence {
    /// The capabilities, in announcement order.
    public private(set) var entries: [Capability]

    /// Creates a list.
    public init(_ entries: [Capability] = []) {
        self.entries = entries
    }

    /// Parses an EHLO/LHLO reply: its first line is the server's greeting, every following
    /// line one capability. Malformed lines (not starting with a keyword) are skipped.
    public init(ehloReply reply: Reply) {
        self.entries = reply.lines.dropFirst().compactMap { line in
            let words = line.split(separator: " ")
            guard let keyword = words.first,
                  keyword.utf8.allSatisfy({ PathParser.isLetDig($0) || $0 == UInt8(ascii: "-") }) else { return nil }
            return Capability(String(keyword), words.dropFirst().map(String.init))
        }
    }

    /// Appends a capability.
    public mutating func append(_ capability: Capability) {
        entries.append(capability)
    }

    /// Whether `keyword` (case-insensitive) is announced.
    public func contains(_ keyword: String) -> Bool { self[keyword] != nil }

    /// The capability for `keyword` (case-insensitive), if announced.
    public subscript(_ keyword: String) -> Capability? {
        let upper = keyword.uppercased()
        return entries.first { $0.keyword == upper }
    }

    /// The announced `SIZE` limit (RFC 1870 §4); `nil` when SIZE is absent or has no limit.
    public var maximumMessageSize: Int? {
        guard let parameter = self["SIZE"]?.parameters.first, let size = Int(parameter), size > 0 else { return nil }
        return size
    }

    /// The SASL mechanisms announced with `AUTH` (RFC 4954 §3), upper-cased.
    public var authMechanisms: [String] {
        self["AUTH"]?.parameters.map { $0.uppercased() } ?? []
    }

    /// The EHLO reply: `250-greeting` followed by one line per capability; no enhanced code
    /// (RFC 2034 §3 exempts replies to EHLO).
    public func reply(greetingLine: String) -> Reply {
        Reply(code: 250, enhancedCode: .omitted, lines: [greetingLine] + entries.map(\.description))
    }

    /// Iterates over the capabilities.
    public func makeIterator() -> IndexingIterator<[Capability]> { entries.makeIterator() }
}
