/// Checks a parsed script and turns it into a ``SieveProgram`` (RFC 5228 §2.10.6, §3.2: every
/// error is found before anything runs). Errors are gathered, one per misused command or test.
public enum Compiler {
    /// The extensions this implementation has (the `require` names, RFC 5228 §3.2).
    public static let extensions: Set<String> = [
        "fileinto", "envelope", "reject", "ereject", "variables", "subaddress", "copy", "imap4flags", "relational",
        "mailbox", "encoded-character", "comparator-i;octet", "comparator-i;ascii-casemap", "comparator-i;ascii-numeric",
        "body", "date", "index", "vacation",
    ]

    /// Parses and checks `text`.
    public static func compile(_ text: String) throws(SieveErrors) -> SieveProgram {
        let script: Script
        do {
            script = try Parser.parse(text)
        } catch {
            throw SieveErrors([error])
        }
        return try compile(script)
    }

    /// Checks `script`.
    public static func compile(_ script: Script) throws(SieveErrors) -> SieveProgram {
        var context = Context()
        let statements = context.block(script.commands, topLevel: true)
        guard context.errors.isEmpty else { throw SieveErrors(context.errors) }
        return SieveProgram(extensions: context.required, warnings: context.warnings, statements: statements)
    }

    /// The header fields the `address` test may read (RFC 5228 §5.1: those that hold addresses).
    static let matchTags: [String: ArgumentReader.TagValue] = ["is": .flag, "contains": .flag, "matches": .flag, "comparator": .string]
    static let addressPartTags: [String: ArgumentReader.TagValue] = ["all": .flag, "localpart": .flag, "domain": .flag]

    struct Context {
        var required: Set<String> = []
        var errors: [SieveError] = []
        var warnings: [SieveError] = []
        /// Whether a command other than `require` has been seen.
        var pastRequires = false

        func has(_ capability: String) -> Bool { required.contains(capability) }

        mutating func report(_ error: SieveError) { errors.append(error) }

        mutating func block(_ commands: [Script.Command], topLevel: Bool) -> [Statement] {
            var statements: [Statement] = []
            var index = 0
            while index < commands.count {
                let command = commands[index]
                do throws(SieveError) {
                    switch command.name {
                    case "if":
                        var branches = [Branch(condition: try condition(ofIf: command), body: block(try body(command), topLevel: false))]
                        var otherwise: [Statement]?
                        while index + 1 < commands.count, ["elsif", "else"].contains(commands[index + 1].name) {
                            index += 1
                            let next = commands[index]
                            if next.name == "elsif" {
                                branches.append(Branch(condition: try condition(ofIf: next), body: block(try body(next), topLevel: false)))
                            } else {
                                try noArguments(next, "the else command")
                                otherwise = block(try body(next), topLevel: false)
                                break
                            }
                        }
                        pastRequires = true
                        statements.append(.conditional(branches, otherwise: otherwise))
                    case "elsif", "else":
                        throw SieveError("\(command.name) without a preceding if or elsif", at: command.position)
                    case "require":
                        try require(command, topLevel: topLevel)
                    default:
                        pastRequires = true
                        if command.block != nil { throw SieveError("the \(command.name) command takes no block", at: command.position) }
                        if let statement = try self.command(command) { statements.append(statement) }
                    }
                } catch {
                    report(error)
                }
                index += 1
            }
            return statements
        }

        func body(_ command: Script.Command) throws(SieveError) -> [Script.Command] {
            guard let block = command.block else { throw SieveError("the \(command.name) command needs a block", at: command.position) }
            return block
        }

        func noArguments(_ command: Script.Command, _ owner: String) throws(SieveError) {
            if let first = command.arguments.values.first { throw SieveError("\(owner) takes no arguments", at: first.position) }
            if command.arguments.tests != nil { throw SieveError("\(owner) takes no test", at: command.position) }
        }

        mutating func require(_ command: Script.Command, topLevel: Bool) throws(SieveError) {
            guard topLevel, !pastRequires else {
                throw SieveError("require must come before any other command", at: command.position)
            }
            let reader = try ArgumentReader(command.arguments, owner: "the require command", position: command.position, allowed: [:])
            try reader.expectPositional([.strings], names: ["capabilities"])
            if command.arguments.tests != nil { throw SieveError("the require command takes no test", at: command.position) }
            for capability in reader.positionalStrings(0) {
                let name = capability.lowercased()
                guard Compiler.extensions.contains(name) else {
                    throw SieveError("unknown extension \"\(capability)\"", at: reader.positional[0].position)
                }
                required.insert(name)
                // RFC 5429 §2.1: ereject comes with reject's semantics.
                if name == "comparator-i;octet" || name == "comparator-i;ascii-casemap" { continue }
            }
        }

        func need(_ capability: String, for thing: String, at position: SourcePosition) throws(SieveError) {
            guard has(capability) else {
                throw SieveError("\(thing) needs require \"\(capability)\"", at: position)
            }
        }

        // MARK: Strings

        /// A string argument as the command will use it: encoded characters decoded, variable
        /// references parsed (when those extensions are required).
        func template(_ text: String) -> StringTemplate {
            let decoded = has("encoded-character") ? EncodedCharacter.decode(text) : text
            return StringTemplate(decoded, variables: has("variables"))
        }

        func templates(_ texts: [String]) -> [StringTemplate] { texts.map(template) }

        /// A test's string list.
        func list(_ texts: [String]) -> Templates { Templates(templates(texts)) }

        /// Header field names, lower-cased now (they are case-insensitive, RFC 5322 §1.2.2) so
        /// that running the script need not; a name with a variable in it is lower-cased when
        /// it is expanded.
        func fieldNames(_ texts: [String]) -> Templates { Templates(texts.map { template($0.lowercased()) }) }

        // MARK: Commands

        mutating func command(_ command: Script.Command) throws(SieveError) -> Statement? {
            let owner = "the \(command.name) command"
            if command.arguments.tests != nil { throw SieveError("\(owner) takes no test", at: command.position) }
            func reader(_ allowed: [String: ArgumentReader.TagValue]) throws(SieveError) -> ArgumentReader {
                try ArgumentReader(command.arguments, owner: owner, position: command.position, allowed: allowed)
            }
            switch command.name {
            case "stop":
                try reader([:]).expectPositional([], names: [])
                return .stop
            case "keep":
                let arguments = try reader(has("imap4flags") ? ["flags": .strings] : [:])
                try arguments.expectPositional([], names: [])
                return .keep(flags: arguments.strings("flags").map(templates))
            case "discard":
                try reader([:]).expectPositional([], names: [])
                return .discard
            case "fileinto":
                try need("fileinto", for: "fileinto", at: command.position)
                var allowed: [String: ArgumentReader.TagValue] = [:]
                if has("copy") { allowed["copy"] = .flag }
                if has("mailbox") { allowed["create"] = .flag }
                if has("imap4flags") { allowed["flags"] = .strings }
                let arguments = try reader(allowed)
                try arguments.expectPositional([.string], names: ["folder"])
                let folder = arguments.positionalStrings(0)[0]
                if !has("variables") || !folder.contains("${") {
                    guard !folder.isEmpty, folder.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
                        throw SieveError("invalid folder name \"\(folder)\"", at: arguments.positional[0].position)
                    }
                }
                return .fileInto(template(folder), copy: arguments.has("copy"), create: arguments.has("create"),
                                 flags: arguments.strings("flags").map(templates))
            case "redirect":
                let arguments = try reader(has("copy") ? ["copy": .flag] : [:])
                try arguments.expectPositional([.string], names: ["address"])
                let address = arguments.positionalStrings(0)[0]
                if !(has("variables") && address.contains("${")), Addresses.mailbox(address) == nil {
                    throw SieveError("invalid redirect address \"\(address)\"", at: arguments.positional[0].position)
                }
                return .redirect(template(address), copy: arguments.has("copy"))
            case "reject", "ereject":
                try need(command.name, for: command.name, at: command.position)
                let arguments = try reader([:])
                try arguments.expectPositional([.string], names: ["reason"])
                return .reject(template(arguments.positionalStrings(0)[0]), extended: command.name == "ereject")
            case "setflag", "addflag", "removeflag":
                try need("imap4flags", for: command.name, at: command.position)
                let arguments = try reader([:])
                let operation: FlagOperation = command.name == "setflag" ? .set : command.name == "addflag" ? .add : .remove
                switch arguments.positional.count {
                case 1:
                    try arguments.expectPositional([.strings], names: ["flags"])
                    return .flags(operation, variable: nil, flags: templates(arguments.positionalStrings(0)))
                default:
                    try arguments.expectPositional([.string, .strings], names: ["variable name", "flags"])
                    try need("variables", for: "a flag variable", at: arguments.positional[0].position)
                    let name = arguments.positionalStrings(0)[0]
                    guard StringTemplate.isIdentifier(Substring(name)) else {
                        throw SieveError("invalid variable name \"\(name)\"", at: arguments.positional[0].position)
                    }
                    return .flags(operation, variable: StringTemplate(literal: name.lowercased()), flags: templates(arguments.positionalStrings(1)))
                }
            case "set":
                try need("variables", for: "set", at: command.position)
                var allowed: [String: ArgumentReader.TagValue] = [:]
                for modifier in SetModifier.allCases { allowed[modifier.rawValue] = .flag }
                let arguments = try reader(allowed)
                try arguments.expectPositional([.string, .string], names: ["variable name", "value"])
                let name = arguments.positionalStrings(0)[0]
                guard StringTemplate.isIdentifier(Substring(name)) else {
                    throw SieveError("invalid variable name \"\(name)\"", at: arguments.positional[0].position)
                }
                let modifiers = arguments.tagOrder.compactMap(SetModifier.init(rawValue:))
                // RFC 5229 §4.1: two modifiers of the same precedence are an error.
                let precedences = modifiers.map(\.precedence)
                if Set(precedences).count != precedences.count {
                    throw SieveError("set has two modifiers of the same kind", at: command.position)
                }
                return .set(variable: name.lowercased(), value: template(arguments.positionalStrings(1)[0]),
                            modifiers: modifiers.sorted { $0.precedence > $1.precedence })
            case "vacation":
                try need("vacation", for: "vacation", at: command.position)
                let arguments = try reader(["days": .number, "subject": .string, "from": .string, "addresses": .strings,
                                            "mime": .flag, "handle": .string])
                try arguments.expectPositional([.string], names: ["reason"])
                // RFC 5230 §4.1: at least one day; Pigeonhole's default is 7.
                let days = max(1, arguments.number("days") ?? 7)
                if let from = arguments.string("from"), !(has("variables") && from.contains("${")),
                   Addresses.mailbox(from) == nil {
                    throw SieveError("invalid :from address \"\(from)\"", at: command.position)
                }
                return .vacation(VacationCommand(seconds: days * 86_400, subject: arguments.string("subject").map(template),
                                                 from: arguments.string("from").map(template),
                                                 addresses: templates(arguments.strings("addresses") ?? []),
                                                 mime: arguments.has("mime"), handle: arguments.string("handle").map(template),
                                                 reason: template(arguments.positionalStrings(0)[0])))
            default:
                throw SieveError("unknown command '\(command.name)'", at: command.position)
            }
        }

        // MARK: Tests

        mutating func condition(ofIf command: Script.Command) throws(SieveError) -> Condition {
            guard let tests = command.arguments.tests, tests.count == 1, !command.arguments.testsAreList,
                  command.arguments.values.isEmpty else {
                throw SieveError("\(command.name) needs exactly one test", at: command.position)
            }
            return try condition(tests[0])
        }

        /// The match type and comparator among `reader`'s tags.
        func matchSpec(_ reader: ArgumentReader) throws(SieveError) -> MatchSpec {
            var spec = MatchSpec()
            let types = ["is", "contains", "matches", "value", "count"].filter(reader.has)
            guard types.count <= 1 else {
                throw SieveError("\(reader.owner) has more than one match type", at: reader.position)
            }
            switch types.first {
            case "contains": spec.type = .contains
            case "matches": spec.type = .matches
            case "value", "count":
                let tag = types[0]
                guard let name = reader.string(tag), let relation = RelationalOperator(rawValue: name.lowercased()) else {
                    throw SieveError(":\(tag) needs one of gt, ge, lt, le, eq, ne", at: reader.tags[tag]!.tag.position)
                }
                spec.type = tag == "value" ? .value(relation) : .count(relation)
            default: break
            }
            if let name = reader.string("comparator") {
                guard let comparator = Comparator(rawValue: name.lowercased()) else {
                    throw SieveError("unknown comparator \"\(name)\"", at: reader.tags["comparator"]!.tag.position)
                }
                if comparator == .asciiNumeric {
                    try need("comparator-i;ascii-numeric", for: "the i;ascii-numeric comparator", at: reader.tags["comparator"]!.tag.position)
                }
                if !comparator.supportsSubstrings, spec.type == .contains || spec.type == .matches {
                    throw SieveError("the \(comparator.rawValue) comparator cannot be used with :\(types[0])", at: reader.position)
                }
                spec.comparator = comparator
            }
            return spec
        }

        var matchTags: [String: ArgumentReader.TagValue] {
            var tags = Compiler.matchTags
            if has("relational") { tags["value"] = .string; tags["count"] = .string }
            return tags
        }

        var addressTags: [String: ArgumentReader.TagValue] {
            var tags = matchTags.merging(Compiler.addressPartTags) { first, _ in first }
            if has("subaddress") { tags["user"] = .flag; tags["detail"] = .flag }
            return tags
        }

        var indexTags: [String: ArgumentReader.TagValue] { has("index") ? ["index": .number, "last": .flag] : [:] }

        func addressPart(_ reader: ArgumentReader) throws(SieveError) -> AddressPart {
            let parts = ["all", "localpart", "domain", "user", "detail"].filter(reader.has)
            guard parts.count <= 1 else { throw SieveError("\(reader.owner) has more than one address part", at: reader.position) }
            switch parts.first {
            case "localpart": return .localPart
            case "domain": return .domain
            case "user": return .user
            case "detail": return .detail
            default: return .all
            }
        }

        func fieldIndex(_ reader: ArgumentReader) throws(SieveError) -> FieldIndex? {
            if reader.has("last") && !reader.has("index") {
                throw SieveError(":last needs :index", at: reader.tags["last"]!.tag.position)
            }
            guard let number = reader.number("index") else { return nil }
            guard number >= 1 else { throw SieveError(":index must be at least 1", at: reader.tags["index"]!.tag.position) }
            return FieldIndex(number: number, fromLast: reader.has("last"))
        }

        /// Warns of names no header field can have (field-name = 1*ftext, ftext = %d33-57 /
        /// %d59-126, RFC 5322 §3.6.8): the test is then false, as Pigeonhole has it.
        mutating func checkHeaderNames(_ names: [String], at position: SourcePosition) {
            for name in names where !(has("variables") && name.contains("${")) {
                if name.isEmpty || !name.utf8.allSatisfy({ $0 >= 33 && $0 <= 126 && $0 != 58 }) {
                    warnings.append(SieveError("invalid header field name \"\(name)\"", at: position))
                }
            }
        }

        mutating func condition(_ test: Script.Test) throws(SieveError) -> Condition {
            let owner = "the \(test.name) test"
            func reader(_ allowed: [String: ArgumentReader.TagValue]) throws(SieveError) -> ArgumentReader {
                try ArgumentReader(test.arguments, owner: owner, position: test.position, allowed: allowed)
            }
            func noTests() throws(SieveError) {
                if test.arguments.tests != nil { throw SieveError("\(owner) takes no nested test", at: test.position) }
            }
            switch test.name {
            case "true", "false":
                try noTests()
                try reader([:]).expectPositional([], names: [])
                return .constant(test.name == "true")
            case "not":
                guard test.arguments.values.isEmpty, let tests = test.arguments.tests, tests.count == 1, !test.arguments.testsAreList else {
                    throw SieveError("not takes exactly one test", at: test.position)
                }
                return .not(try condition(tests[0]))
            case "allof", "anyof":
                guard test.arguments.values.isEmpty, let tests = test.arguments.tests, test.arguments.testsAreList else {
                    throw SieveError("\(test.name) takes a list of tests in parentheses", at: test.position)
                }
                var conditions: [Condition] = []
                for nested in tests { conditions.append(try condition(nested)) }
                return test.name == "allof" ? .allOf(conditions) : .anyOf(conditions)
            case "address":
                try noTests()
                let arguments = try reader(addressTags.merging(indexTags) { first, _ in first })
                try arguments.expectPositional([.strings, .strings], names: ["header list", "key list"])
                checkHeaderNames(arguments.positionalStrings(0), at: arguments.positional[0].position)
                return .address(part: try addressPart(arguments), match: try matchSpec(arguments),
                                headers: fieldNames(arguments.positionalStrings(0)), keys: list(arguments.positionalStrings(1)),
                                index: try fieldIndex(arguments))
            case "envelope":
                try need("envelope", for: "envelope", at: test.position)
                try noTests()
                let arguments = try reader(addressTags)
                try arguments.expectPositional([.strings, .strings], names: ["envelope part", "key list"])
                for part in arguments.positionalStrings(0) where !(has("variables") && part.contains("${")) {
                    guard ["from", "to"].contains(part.lowercased()) else {
                        throw SieveError("unknown envelope part \"\(part)\"", at: arguments.positional[0].position)
                    }
                }
                return .envelope(part: try addressPart(arguments), match: try matchSpec(arguments),
                                 parts: list(arguments.positionalStrings(0)), keys: list(arguments.positionalStrings(1)))
            case "header":
                try noTests()
                let arguments = try reader(matchTags.merging(indexTags) { first, _ in first })
                try arguments.expectPositional([.strings, .strings], names: ["header names", "key list"])
                checkHeaderNames(arguments.positionalStrings(0), at: arguments.positional[0].position)
                return .header(match: try matchSpec(arguments), names: fieldNames(arguments.positionalStrings(0)),
                               keys: list(arguments.positionalStrings(1)), index: try fieldIndex(arguments))
            case "exists":
                try noTests()
                let arguments = try reader([:])
                try arguments.expectPositional([.strings], names: ["header names"])
                checkHeaderNames(arguments.positionalStrings(0), at: arguments.positional[0].position)
                return .exists(fieldNames(arguments.positionalStrings(0)))
            case "size":
                try noTests()
                let arguments = try reader(["over": .flag, "under": .flag])
                try arguments.expectPositional([.number], names: ["limit"])
                guard arguments.has("over") != arguments.has("under") else {
                    throw SieveError("size needs exactly one of :over and :under", at: test.position)
                }
                return .size(over: arguments.has("over"), limit: arguments.positionalNumber(0))
            case "string":
                try need("variables", for: "string", at: test.position)
                try noTests()
                let arguments = try reader(matchTags)
                try arguments.expectPositional([.strings, .strings], names: ["source", "key list"])
                return .string(match: try matchSpec(arguments), sources: list(arguments.positionalStrings(0)),
                               keys: list(arguments.positionalStrings(1)))
            case "hasflag":
                try need("imap4flags", for: "hasflag", at: test.position)
                try noTests()
                let arguments = try reader(matchTags)
                if arguments.positional.count == 2 {
                    try arguments.expectPositional([.strings, .strings], names: ["variable list", "flags"])
                    try need("variables", for: "a flag variable", at: arguments.positional[0].position)
                    return .hasFlag(match: try matchSpec(arguments), variables: list(arguments.positionalStrings(0).map { $0.lowercased() }),
                                    keys: list(arguments.positionalStrings(1)))
                }
                try arguments.expectPositional([.strings], names: ["flags"])
                return .hasFlag(match: try matchSpec(arguments), variables: Templates([]), keys: list(arguments.positionalStrings(0)))
            case "mailboxexists":
                try need("mailbox", for: "mailboxexists", at: test.position)
                try noTests()
                let arguments = try reader([:])
                try arguments.expectPositional([.strings], names: ["mailbox names"])
                return .mailboxExists(list(arguments.positionalStrings(0)))
            case "body":
                try need("body", for: "body", at: test.position)
                try noTests()
                let arguments = try reader(matchTags.merging(["raw": .flag, "text": .flag, "content": .strings]) { first, _ in first })
                try arguments.expectPositional([.strings], names: ["key list"])
                let transforms = ["raw", "text", "content"].filter(arguments.has)
                guard transforms.count <= 1 else { throw SieveError("body has more than one transform", at: test.position) }
                let transform: BodyTransform
                switch transforms.first {
                case "raw": transform = .raw
                case "content": transform = .content(templates(arguments.strings("content") ?? []))
                default: transform = .text
                }
                return .body(match: try matchSpec(arguments), transform: transform, keys: list(arguments.positionalStrings(0)))
            case "date", "currentdate":
                try need("date", for: test.name, at: test.position)
                try noTests()
                var allowed = matchTags.merging(["zone": .string]) { first, _ in first }
                if test.name == "date" {
                    allowed["originalzone"] = .flag
                    allowed.merge(indexTags) { first, _ in first }
                }
                let arguments = try reader(allowed)
                let zone: DateZone
                if arguments.has("zone") && arguments.has("originalzone") {
                    throw SieveError("date takes :zone or :originalzone, not both", at: test.position)
                } else if let text = arguments.string("zone") {
                    if !(has("variables") && text.contains("${")), DateParts.offset(text) == nil {
                        warnings.append(SieveError("invalid time zone \"\(text)\" (the local zone is used)",
                                                   at: arguments.tags["zone"]!.tag.position))
                    }
                    zone = .fixed(template(text))
                } else {
                    zone = arguments.has("originalzone") ? .original : .local
                }
                let partIndex = test.name == "date" ? 1 : 0
                if test.name == "date" {
                    try arguments.expectPositional([.string, .string, .strings], names: ["header name", "date part", "key list"])
                    checkHeaderNames(arguments.positionalStrings(0), at: arguments.positional[0].position)
                } else {
                    try arguments.expectPositional([.string, .strings], names: ["date part", "key list"])
                }
                let part = arguments.positionalStrings(partIndex)[0]
                if !(has("variables") && part.contains("${")), !DateParts.names.contains(part.lowercased()) {
                    warnings.append(SieveError("unknown date part \"\(part)\" (the test is false)", at: arguments.positional[partIndex].position))
                }
                let keys = list(arguments.positionalStrings(partIndex + 1))
                if test.name == "date" {
                    return .date(match: try matchSpec(arguments), zone: zone, header: fieldNames([arguments.positionalStrings(0)[0]]).items[0],
                                 part: template(part), keys: keys, index: try fieldIndex(arguments))
                }
                return .currentDate(match: try matchSpec(arguments), zone: zone, part: template(part), keys: keys)
            default:
                throw SieveError("unknown test '\(test.name)'", at: test.position)
            }
        }
    }
}
