/// A command's or test's arguments sorted out (RFC 5228 §2.6): tagged arguments with the value
/// each takes, then the positional ones in order.
struct ArgumentReader {
    /// What follows a tag.
    enum TagValue {
        case flag, string, strings, number
    }

    /// Which thing the arguments belong to, for messages: `the header test`.
    let owner: String
    let position: SourcePosition
    /// Tags given, with the argument after each that takes one.
    private(set) var tags: [String: (tag: Script.Argument, value: Script.Argument?)] = [:]
    /// Tags in the order given.
    private(set) var tagOrder: [String] = []
    /// The positional arguments, in order.
    private(set) var positional: [Script.Argument] = []

    /// Sorts `arguments`; a tag not in `allowed`, a repeated tag, a tag without its value, or a
    /// tag after a positional argument is an error.
    init(_ arguments: Script.Arguments, owner: String, position: SourcePosition, allowed: [String: TagValue]) throws(SieveError) {
        self.owner = owner
        self.position = position
        var values = arguments.values[...]
        while let argument = values.popFirst() {
            guard case .tag(let name) = argument.value else {
                positional.append(argument)
                continue
            }
            guard positional.isEmpty else {
                throw SieveError("the tag :\(name) must come before the positional arguments of \(owner)", at: argument.position)
            }
            guard let kind = allowed[name] else {
                throw SieveError("unknown tag :\(name) for \(owner)", at: argument.position)
            }
            guard tags[name] == nil else { throw SieveError("the tag :\(name) is given twice to \(owner)", at: argument.position) }
            var value: Script.Argument?
            switch kind {
            case .flag:
                break
            case .string, .strings, .number:
                guard let next = values.popFirst() else {
                    throw SieveError("the tag :\(name) of \(owner) needs a value", at: argument.position)
                }
                guard Self.fits(kind, next.value) else {
                    throw SieveError("the tag :\(name) of \(owner) needs \(Self.describe(kind))", at: next.position)
                }
                value = next
            }
            tags[name] = (argument, value)
            tagOrder.append(name)
        }
    }

    /// Whether `value` is what `kind` asks for: one string (not a list of one), a list, a number.
    static func fits(_ kind: TagValue, _ value: Script.Argument.Value) -> Bool {
        switch (kind, value) {
        case (.string, .strings(let strings, let isList)): return strings.count == 1 && !isList
        case (.strings, .strings), (.number, .number): return true
        default: return false
        }
    }

    static func describe(_ kind: TagValue) -> String {
        switch kind {
        case .number: "a number"
        case .string: "a string"
        case .strings: "a string list"
        case .flag: "nothing"
        }
    }

    /// Whether `tag` was given.
    func has(_ tag: String) -> Bool { tags[tag] != nil }

    /// The string after `tag`.
    func string(_ tag: String) -> String? {
        guard case .strings(let strings, _)? = tags[tag]?.value?.value else { return nil }
        return strings.first
    }

    /// The string list after `tag`.
    func strings(_ tag: String) -> [String]? {
        guard case .strings(let strings, _)? = tags[tag]?.value?.value else { return nil }
        return strings
    }

    /// The number after `tag`.
    func number(_ tag: String) -> Int? {
        guard case .number(let value)? = tags[tag]?.value?.value else { return nil }
        return value
    }

    /// Checks the positional arguments against `kinds` (`.string`, `.strings` or `.number`).
    func expectPositional(_ kinds: [TagValue], names: [String]) throws(SieveError) {
        guard positional.count == kinds.count else {
            let at = positional.count > kinds.count ? positional[kinds.count].position : position
            let described = names.isEmpty ? "no positional arguments" : names.joined(separator: ", ")
            throw SieveError("\(owner) takes \(described), found \(positional.count) argument\(positional.count == 1 ? "" : "s")", at: at)
        }
        for (index, kind) in kinds.enumerated() {
            let argument = positional[index]
            guard Self.fits(kind, argument.value) else {
                throw SieveError("the \(names[index]) of \(owner) must be \(Self.describe(kind))", at: argument.position)
            }
        }
    }

    /// The strings of positional argument `index` (checked already).
    func positionalStrings(_ index: Int) -> [String] {
        if case .strings(let strings, _) = positional[index].value { return strings }
        return []
    }

    /// The number of positional argument `index` (checked already).
    func positionalNumber(_ index: Int) -> Int {
        if case .number(let value) = positional[index].value { return value }
        return 0
    }
}
