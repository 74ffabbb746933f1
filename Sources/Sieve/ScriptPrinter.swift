extension Script: CustomStringConvertible {
    /// The script written back in one canonical layout: parsing it gives the same tree (less
    /// positions), which the parser's fuzz target checks.
    public var description: String {
        var output = ""
        Self.write(commands, indent: 0, to: &output)
        return output
    }

    private static func write(_ commands: [Command], indent: Int, to output: inout String) {
        for command in commands {
            output += String(repeating: "  ", count: indent) + command.name
            write(command.arguments, to: &output)
            if let block = command.block {
                output += " {\n"
                write(block, indent: indent + 1, to: &output)
                output += String(repeating: "  ", count: indent) + "}\n"
            } else {
                output += ";\n"
            }
        }
    }

    private static func write(_ arguments: Arguments, to output: inout String) {
        for argument in arguments.values {
            output += " "
            switch argument.value {
            case .tag(let name): output += ":" + name
            case .number(let value): output += String(value)
            case .strings(let strings, let isList):
                let quoted = strings.map(quote)
                output += isList ? "[" + quoted.joined(separator: ", ") + "]" : quoted.joined()
            }
        }
        guard let tests = arguments.tests else { return }
        output += " "
        if arguments.testsAreList { output += "(" }
        for (index, test) in tests.enumerated() {
            if index > 0 { output += ", " }
            output += test.name
            write(test.arguments, to: &output)
        }
        if arguments.testsAreList { output += ")" }
    }

    /// A quoted string whose escapes give back `text` (RFC 5228 §2.4.2).
    static func quote(_ text: String) -> String {
        var result = "\""
        for character in text {
            if character == "\"" || character == "\\" { result += "\\" }
            result.append(character)
        }
        return result + "\""
    }
}
