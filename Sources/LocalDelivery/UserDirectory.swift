/// The users file: one address per line, optionally followed by settings (`quota=2G`); `#`
/// starts a comment. With a users file, only the addresses in it are local users.
public struct UserDirectory: UserLookup, Hashable {

    /// Why a users file was refused: every bad line, each with its number, so that one
    /// correction fixes them all.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        /// One bad line.
        public struct Problem: Hashable, Sendable, CustomStringConvertible {
            /// The line's number, from 1.
            public var line: Int
            /// What is wrong with it.
            public var message: String

            /// The problem `message` on line `line`.
            public init(line: Int, message: String) {
                self.line = line
                self.message = message
            }

            public var description: String { "line \(line): \(message)" }
        }

        /// The bad lines, in file order.
        public var problems: [Problem]

        /// A refusal listing `problems`.
        public init(_ problems: [Problem]) { self.problems = problems }

        public var description: String { problems.map(\.description).joined(separator: "; ") }
    }

    /// The users by address.
    public private(set) var users: [String: LocalUser] = [:]

    /// Parses a users file's text; a file with bad lines is refused as a whole.
    public init(parsing text: String) throws(ParseError) {
        var problems: [ParseError.Problem] = []
        lines: for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = words.first else { continue }
            let address = first.lowercased()
            guard address.contains("@") else {
                problems.append(.init(line: index + 1, message: "\(first) is not an address"))
                continue
            }
            var user = LocalUser(address: address)
            for setting in words.dropFirst() {
                let parts = setting.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0] == "quota", let quota = Self.size(parts[1]) else {
                    problems.append(.init(line: index + 1, message: "unknown setting \(setting)"))
                    continue lines
                }
                user.quota = quota
            }
            users[address] = user
        }
        guard problems.isEmpty else { throw ParseError(problems) }
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

    /// The user at `address` (lower-cased already, as ``UserLookup`` gives it), if the file
    /// lists it.
    public func user(address: String, localPart: String, domain: String) -> LocalUser? { users[address] }
}
