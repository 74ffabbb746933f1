/// A place in a script: line and column, both from 1, columns counted in characters.
public struct SourcePosition: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The line, from 1.
    public var line: Int
    /// The column, from 1.
    public var column: Int

    /// A position.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// `line L, column C`.
    public var description: String { "line \(line), column \(column)" }

    public static func < (lhs: SourcePosition, rhs: SourcePosition) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}

/// Why a script cannot run: a syntax error, an unknown or unrequired extension, a command or
/// test given the wrong arguments (RFC 5228 §2.10.6: all of these are found before the script
/// runs, and then nothing of it runs), each with where it is.
public struct SieveError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Where the problem is.
    public var position: SourcePosition
    /// What it is.
    public var message: String

    /// An error at `position`.
    public init(_ message: String, at position: SourcePosition) {
        self.message = message
        self.position = position
    }

    /// `line L, column C: message`.
    public var description: String { "\(position): \(message)" }
}

/// Every error a script has, in order (the parser stops at the first syntax error; checking
/// goes on to report every misused command).
public struct SieveErrors: Error, Hashable, Sendable, CustomStringConvertible {
    /// The errors, first first.
    public var errors: [SieveError]

    /// Errors.
    public init(_ errors: [SieveError]) {
        self.errors = errors
    }

    /// One line per error.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
