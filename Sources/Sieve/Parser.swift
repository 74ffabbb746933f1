/// Reads a script into its syntax tree (RFC 5228 §8.2), stopping at the first syntax error with
/// its line and column.
public enum Parser {
    /// Parses `text`.
    public static func parse(_ text: String) throws(SieveError) -> Script {
        var lexer = Lexer(text)
        var state = State(tokens: try lexer.tokens())
        let commands = try state.commands(topLevel: true)
        return Script(commands: commands)
    }

    /// How deep blocks, and tests, may nest: Pigeonhole's limit of 32 each.
    static let deepestNesting = 32

    private struct State {
        let tokens: [Token]
        var index = 0
        var depth = 0

        var current: Token { tokens[index] }

        mutating func take() -> Token {
            let token = tokens[index]
            if index < tokens.count - 1 { index += 1 }
            return token
        }

        func describe(_ kind: TokenKind) -> String {
            switch kind {
            case .identifier(let name): "'\(name)'"
            case .tag(let name): "':\(name)'"
            case .number(let value): "number \(value)"
            case .string: "a string"
            case .leftBracket: "'['"
            case .rightBracket: "']'"
            case .leftParenthesis: "'('"
            case .rightParenthesis: "')'"
            case .leftBrace: "'{'"
            case .rightBrace: "'}'"
            case .comma: "','"
            case .semicolon: "';'"
            case .end: "the end of the script"
            }
        }

        mutating func commands(topLevel: Bool) throws(SieveError) -> [Script.Command] {
            var result: [Script.Command] = []
            while true {
                switch current.kind {
                case .end:
                    guard topLevel else { throw SieveError("missing '}' before the end of the script", at: current.position) }
                    return result
                case .rightBrace:
                    guard !topLevel else { throw SieveError("unexpected '}'", at: current.position) }
                    return result
                case .identifier(let name):
                    let start = take().position
                    let arguments = try self.arguments()
                    switch current.kind {
                    case .semicolon:
                        _ = take()
                        result.append(Script.Command(name: name.lowercased(), arguments: arguments, block: nil, position: start))
                    case .leftBrace:
                        let open = take().position
                        depth += 1
                        guard depth <= Parser.deepestNesting else { throw SieveError("blocks nested too deeply", at: open) }
                        let block = try commands(topLevel: false)
                        depth -= 1
                        _ = take()
                        result.append(Script.Command(name: name.lowercased(), arguments: arguments, block: block, position: start))
                    default:
                        throw SieveError("expected ';' or '{' after the command '\(name)', found \(describe(current.kind))",
                                         at: current.position)
                    }
                default:
                    throw SieveError("expected a command, found \(describe(current.kind))", at: current.position)
                }
            }
        }

        mutating func arguments() throws(SieveError) -> Script.Arguments {
            var values: [Script.Argument] = []
            while true {
                let token = current
                switch token.kind {
                case .string(let text):
                    _ = take()
                    values.append(Script.Argument(.strings([text], isList: false), at: token.position))
                case .number(let value):
                    _ = take()
                    values.append(Script.Argument(.number(value), at: token.position))
                case .tag(let name):
                    _ = take()
                    values.append(Script.Argument(.tag(name), at: token.position))
                case .leftBracket:
                    _ = take()
                    values.append(Script.Argument(.strings(try stringList(token.position), isList: true), at: token.position))
                case .identifier:
                    return Script.Arguments(values: values, tests: [try test()], testsAreList: false)
                case .leftParenthesis:
                    return Script.Arguments(values: values, tests: try testList(), testsAreList: true)
                default:
                    return Script.Arguments(values: values)
                }
            }
        }

        mutating func stringList(_ start: SourcePosition) throws(SieveError) -> [String] {
            var strings: [String] = []
            while true {
                guard case .string(let text) = current.kind else {
                    throw SieveError("expected a string in the list, found \(describe(current.kind))", at: current.position)
                }
                _ = take()
                strings.append(text)
                switch take().kind {
                case .comma: continue
                case .rightBracket: return strings
                default: throw SieveError("expected ',' or ']' in the string list", at: tokens[index - 1].position)
                }
            }
        }

        mutating func test() throws(SieveError) -> Script.Test {
            let token = take()
            guard case .identifier(let name) = token.kind else {
                throw SieveError("expected a test, found \(describe(token.kind))", at: token.position)
            }
            depth += 1
            defer { depth -= 1 }
            guard depth <= Parser.deepestNesting else { throw SieveError("tests nested too deeply", at: token.position) }
            return Script.Test(name: name.lowercased(), arguments: try arguments(), position: token.position)
        }

        mutating func testList() throws(SieveError) -> [Script.Test] {
            _ = take()
            var tests: [Script.Test] = []
            while true {
                tests.append(try test())
                let separator = take()
                switch separator.kind {
                case .comma: continue
                case .rightParenthesis: return tests
                default: throw SieveError("expected ',' or ')' in the test list, found \(describe(separator.kind))", at: separator.position)
                }
            }
        }
    }
}
