import Testing
@testable import Sieve

@Suite("Sieve lexer, parser and printer")
struct ParserTests {
    @Test("strings: escapes, text: blocks with dot-stuffing and CRLF or LF line ends")
    func strings() throws {
        let script = try Parser.parse("reject \"a\\\"b\\\\c\\d\";\nreject text: # comment\r\n..dot\nline\r\n.\n;\n")
        guard case .strings(let first, false) = script.commands[0].arguments.values[0].value,
              case .strings(let second, false) = script.commands[1].arguments.values[0].value else {
            Issue.record("\(script)"); return
        }
        #expect(first == ["a\"b\\cd"])
        #expect(second == [".dot\r\nline\r\n"])
    }

    @Test("numbers with quantifiers; too large is an error at its position")
    func numbers() throws {
        let script = try Parser.parse("if size :over 2K { discard; }\nif size :under 3g { keep; }")
        guard case .number(let k) = script.commands[0].arguments.tests?[0].arguments.values[1].value,
              case .number(let g) = script.commands[1].arguments.tests?[0].arguments.values[1].value else {
            Issue.record("\(script)"); return
        }
        #expect(k == 2048 && g == 3 << 30)
        #expect(throws: SieveError("number too large", at: SourcePosition(line: 1, column: 15))) {
            try Parser.parse("if size :over 99999999999999999999 { discard; }")
        }
    }

    @Test("syntax errors name their line and column", arguments: [
        ("keep", 1, 5, "expected ';' or '{' after the command 'keep', found the end of the script"),
        ("if true {\n  keep;\n", 3, 1, "missing '}' before the end of the script"),
        ("if header :is \"a\" [\"b\", ] { }", 1, 25, "expected a string in the list, found ']'"),
        ("keep;\n}", 2, 1, "unexpected '}'"),
        ("/* open", 1, 1, "unterminated comment"),
        ("if allof (true, ) { }", 1, 17, "expected a test, found ')'"),
    ])
    func syntaxErrors(_ text: String, line: Int, column: Int, message: String) {
        #expect(throws: SieveError(message, at: SourcePosition(line: line, column: column))) { try Parser.parse(text) }
    }

    @Test("printing then parsing gives the same tree")
    func printerFixedPoint() throws {
        let text = """
        require ["fileinto", "variables"];
        if anyof (header :contains ["subject", "x-y"] ["a\\"b", "c"], not exists "z", size :over 1M) {
          fileinto "${folder}";
        } elsif true { keep; } else { discard; }
        reject text:
        line one
        ..dot
        .
        ;
        """
        let script = try Parser.parse(text)
        let again = try Parser.parse(script.description)
        #expect(Self.withoutPositions(script) == Self.withoutPositions(again))
        #expect(script.description == again.description)
    }

    static func withoutPositions(_ script: Script) -> String {
        // The printed form carries everything but positions.
        script.description
    }

    @Test("the compiler reports every misused command with its position, not only the first")
    func compilerErrors() {
        do {
            _ = try Compiler.compile("require \"fileinto\";\nfileinto;\nredirect \"nowhere\";\nif header :is \"a\" { }\n")
            Issue.record("compiled")
        } catch {
            #expect(error.errors.map(\.position.line) == [2, 3, 4])
        }
    }
}
