/// A script as written (RFC 5228 §8.2), before its commands are checked: what the parser makes
/// and the printer writes back.
public struct Script: Hashable, Sendable {
    /// The top-level commands, in order.
    public var commands: [Command]

    /// A script of `commands`.
    public init(commands: [Command]) {
        self.commands = commands
    }

    /// `command = identifier arguments (";" / block)`.
    public struct Command: Hashable, Sendable {
        /// The command's name, lower-cased (identifiers are case-insensitive, §2.4).
        public var name: String
        /// Its arguments and tests.
        public var arguments: Arguments
        /// The block, `nil` for a command ended by `;`.
        public var block: [Command]?
        /// Where its name is.
        public var position: SourcePosition

        /// A command.
        public init(name: String, arguments: Arguments, block: [Command]?, position: SourcePosition) {
            self.name = name
            self.arguments = arguments
            self.block = block
            self.position = position
        }
    }

    /// `test = identifier arguments`.
    public struct Test: Hashable, Sendable {
        /// The test's name, lower-cased.
        public var name: String
        /// Its arguments and nested tests.
        public var arguments: Arguments
        /// Where its name is.
        public var position: SourcePosition

        /// A test.
        public init(name: String, arguments: Arguments, position: SourcePosition) {
            self.name = name
            self.arguments = arguments
            self.position = position
        }
    }

    /// `arguments = *argument [ test / test-list ]`.
    public struct Arguments: Hashable, Sendable {
        /// The positional and tagged arguments, in order.
        public var values: [Argument]
        /// A single test or a test list, `nil` when there is none.
        public var tests: [Test]?
        /// Whether the tests were written as a parenthesised list.
        public var testsAreList: Bool

        /// Arguments.
        public init(values: [Argument] = [], tests: [Test]? = nil, testsAreList: Bool = false) {
            self.values = values
            self.tests = tests
            self.testsAreList = testsAreList
        }
    }

    /// `argument = string-list / number / tag`.
    public struct Argument: Hashable, Sendable {
        /// What it is.
        public var value: Value
        /// Where it starts.
        public var position: SourcePosition

        /// An argument.
        public init(_ value: Value, at position: SourcePosition) {
            self.value = value
            self.position = position
        }

        /// The three kinds of argument.
        public enum Value: Hashable, Sendable {
            /// A string, or a list in brackets (`isList`).
            case strings([String], isList: Bool)
            /// A number, its quantifier applied.
            case number(Int)
            /// A tag, lower-cased, without its colon.
            case tag(String)
        }
    }
}
