/// The users file: one address per line, optionally followed by settings (`quota=2G`); `#`
/// starts a comment. With a users file, only the addresses in it are local users.
public struct UserDirectory: UserLookup, Hashable {

    /// Why a users file was refused.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var line: Int
        public var message: String

        public init(line: Int, message: String) {
            self.line = line
            self.message = message
        }

        public var description: String { "line \(line): \(message)" }
    }

    /// The users by address.
    public private(set) var users: [String: LocalUser] = [:]

    /// Parses a users file's text.
    public init(parsing text: String) throws(ParseError) {
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = words.first else { continue }
            let address = first.lowercased()
            guard address.contains("@") else { throw ParseError(line: index + 1, message: "\(first) is not an address") }
            var user = LocalUser(address: address)
            for setting in words.dropFirst() {
                let parts = setting.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0] == "quota", let quota = Self.size(parts[1]) else {
                    throw ParseError(line: index + 1, message: "unknown setting \(setting)")
                }
                user.quota = quota
            }
            users[address] = user
        }
    }

    /// A size like `500M`, `2G`, `1024` (octets; K, M, G, T are powers of 1024).
    public static func size<S: StringProtocol>(_ text: S) -> Int? {
        guard let last = text.last else { return nil }
        let multipliers: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        if let multiplier = multipliers[Character(last.uppercased())] {
            return Int(text.dropLast()).map { $0 * multiplier }
        }
        return Int(text)
    }

    /// The user for `address` (compared lower-cased).
    public func user(_ address: String) -> LocalUser? { users[address.lowercased()] }

    /// The user at `address` (lower-cased already, as ``UserLookup`` gives it), if the file
    /// lists it.
    public func user(address: String, localPart: String, domain: String) -> LocalUser? { users[address] }
}
