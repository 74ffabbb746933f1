extension SieveProgram {
    /// Runs the script on `message` (RFC 5228 §2.10): the actions it takes and whether the
    /// implicit keep applies. A runtime error drops the actions and keeps the message.
    public func run(on message: SieveMessage, environment: SieveEnvironment) -> SieveResult {
        var interpreter = Interpreter(program: self, message: message, environment: environment)
        do throws(RuntimeStop) {
            try interpreter.execute(statements)
        } catch {
            if case .failure(let message) = error {
                return SieveResult(actions: [], implicitKeep: true, implicitKeepFlags: [], runtimeError: message)
            }
        }
        return interpreter.result()
    }
}

enum RuntimeStop: Error {
    case stop
    case failure(String)
}

struct Interpreter {
    let program: SieveProgram
    let message: SieveMessage
    let environment: SieveEnvironment
    var variables: [String: String] = [:]
    var matchVariables: [String] = []
    /// RFC 5232 §3: the internal variable of flags.
    var flags: [String] = []
    var actions: [SieveAction] = []
    var implicitKeep = true
    /// Decoded header values, by lower-cased name, made once.
    var decodedCache: [String: [String]] = [:]
    /// The body's values, by transform, made once (RFC 5173's MIME walk is the costly part).
    var bodyCache: [String: (parts: [[UInt8]], values: [String]?, folded: [UInt8]?)] = [:]
    /// Each field's raw value and addresses (valid ones only), by lower-cased field name, made
    /// once.
    var addressCache: [String: [(field: String, addresses: [String])]] = [:]
    /// The values of one address part of the fields with one name, made once.
    var addressPartCache: [AddressPartKey: [String]] = [:]

    /// A field name and an address part.
    struct AddressPartKey: Hashable {
        var name: String
        var part: AddressPart
    }

    /// Pigeonhole's limits: sieve_max_actions 32, sieve_max_redirects 4; values of variables at
    /// most 4,000 octets.
    static let largestActionCount = 32
    static let largestRedirectCount = 4
    static let largestVariableSize = 4000

    init(program: SieveProgram, message: SieveMessage, environment: SieveEnvironment) {
        self.program = program
        self.message = message
        self.environment = environment
    }

    func result() -> SieveResult {
        SieveResult(actions: actions, implicitKeep: implicitKeep, implicitKeepFlags: implicitKeep ? flags : [], runtimeError: nil)
    }

    // MARK: Strings

    func expand(_ template: StringTemplate) -> String {
        if template.parts.count == 1, case .literal(let literal) = template.parts[0] { return literal }
        var text = ""
        for part in template.parts {
            switch part {
            case .literal(let literal): text += literal
            case .variable(let name): text += variables[name] ?? ""
            case .match(let index): text += index < matchVariables.count ? matchVariables[index] : ""
            }
        }
        return text
    }

    func expand(_ templates: [StringTemplate]) -> [String] { templates.map(expand) }

    func expand(_ templates: Templates) -> [String] { templates.constants ?? templates.items.map(expand) }

    /// Header field names, lower-cased (constant ones were at compile time).
    func fieldNames(_ templates: Templates) -> [String] { templates.constants ?? fieldNames(templates.items) }

    /// Header field names, lower-cased (constant ones were at compile time).
    func fieldNames(_ templates: [StringTemplate]) -> [String] {
        templates.map { template in
            if template.parts.count == 1, case .literal(let literal) = template.parts[0] { return literal }
            return expand(template).lowercased()
        }
    }

    /// Flag lists: each string may hold several flags separated by spaces (RFC 5232 §3).
    func flagList(_ templates: [StringTemplate]) -> [String] {
        var result: [String] = []
        for text in expand(templates) {
            for flag in text.split(separator: " ") where !result.contains(where: { $0.lowercased() == flag.lowercased() }) {
                result.append(String(flag))
            }
        }
        return result
    }

    // MARK: Commands

    mutating func execute(_ statements: [Statement]) throws(RuntimeStop) {
        for statement in statements {
            switch statement {
            case .conditional(let branches, let otherwise):
                var taken = false
                for branch in branches where try evaluate(branch.condition) {
                    try execute(branch.body)
                    taken = true
                    break
                }
                if !taken, let otherwise { try execute(otherwise) }
            case .stop:
                throw .stop
            case .keep(let explicitFlags):
                try add(.keep(flags: explicitFlags.map(flagList) ?? flags))
                implicitKeep = false
            case .discard:
                implicitKeep = false
                if !actions.contains(.discard) { actions.append(.discard) }
            case .fileInto(let folderTemplate, let copy, let create, let explicitFlags):
                let folder = expand(folderTemplate)
                guard !folder.isEmpty else { throw .failure("fileinto: the folder name is empty") }
                try add(.fileInto(folder: folder, flags: explicitFlags.map(flagList) ?? flags, create: create))
                if !copy { implicitKeep = false }
            case .redirect(let addressTemplate, let copy):
                let address = expand(addressTemplate)
                guard let mailbox = Addresses.mailbox(address) else { throw .failure("redirect: invalid address \"\(address)\"") }
                let normalised = mailbox.localPart + "@" + mailbox.domain
                let redirects = actions.filter { if case .redirect = $0 { true } else { false } }
                if !redirects.contains(where: { if case .redirect(let other) = $0 { other.lowercased() == normalised.lowercased() } else { false } }) {
                    guard redirects.count < Self.largestRedirectCount else { throw .failure("too many redirect actions") }
                }
                try add(.redirect(address: normalised))
                if !copy { implicitKeep = false }
            case .reject(let reason, let extended):
                try add(.reject(reason: expand(reason), extended: extended))
                implicitKeep = false
            case .flags(let operation, let variable, let flagTemplates):
                let given = flagList(flagTemplates)
                var current = variable.map { name in (variables[expand(name)] ?? "").split(separator: " ").map(String.init) } ?? flags
                switch operation {
                case .set: current = given
                case .add: current += given.filter { flag in !current.contains { $0.lowercased() == flag.lowercased() } }
                case .remove: current.removeAll { flag in given.contains { $0.lowercased() == flag.lowercased() } }
                }
                if let variable { variables[expand(variable)] = current.joined(separator: " ") } else { flags = current }
            case .set(let name, let value, let modifiers):
                var text = expand(value)
                for modifier in modifiers { text = Self.apply(modifier, to: text) }
                if text.utf8.count > Self.largestVariableSize { text = String(decoding: text.utf8.prefix(Self.largestVariableSize), as: UTF8.self) }
                variables[name] = text
            case .vacation(let command):
                if let reply = vacationReply(command) { try add(.vacation(reply)) }
                else if actions.contains(where: { if case .vacation = $0 { true } else { false } }) {
                    throw .failure("vacation: more than one vacation action")
                }
            }
        }
    }

    /// Adds an action, merging duplicates (RFC 5228 §2.10.3) and refusing the combinations
    /// RFC 5429 §2.1 and RFC 5230 §4 forbid.
    mutating func add(_ action: SieveAction) throws(RuntimeStop) {
        func isReject(_ action: SieveAction) -> Bool { if case .reject = action { true } else { false } }
        func keepsOrSends(_ action: SieveAction) -> Bool {
            switch action {
            case .keep, .fileInto, .redirect, .vacation: true
            default: false
            }
        }
        if isReject(action) {
            if actions.contains(where: isReject) { throw .failure("reject: more than one reject action") }
            if actions.contains(where: keepsOrSends) { throw .failure("reject conflicts with an earlier action") }
        } else if keepsOrSends(action), actions.contains(where: isReject) {
            throw .failure("\(Self.name(of: action)) conflicts with an earlier reject action")
        }
        if case .vacation = action, actions.contains(where: { if case .vacation = $0 { true } else { false } }) {
            throw .failure("vacation: more than one vacation action")
        }
        // Storing into the inbox twice, or into one folder twice, is one delivery with the later
        // action's flags, as Pigeonhole has it; folder names other than INBOX are compared as
        // written.
        let target = Self.folder(of: action)
        if let target, let existing = actions.firstIndex(where: { Self.folder(of: $0) == target }) {
            actions[existing] = Self.merging(actions[existing], action)
            return
        }
        if actions.contains(action) { return }
        guard actions.count < Self.largestActionCount else { throw .failure("too many actions") }
        actions.append(action)
    }

    static func name(of action: SieveAction) -> String {
        switch action {
        case .keep: "keep"
        case .fileInto: "fileinto"
        case .redirect: "redirect"
        case .reject: "reject"
        case .discard: "discard"
        case .vacation: "vacation"
        }
    }

    /// The folder an action stores into (`INBOX` for keep).
    static func folder(of action: SieveAction) -> String? {
        switch action {
        case .keep: "INBOX"
        case .fileInto(let folder, _, _): folder.uppercased() == "INBOX" ? "INBOX" : folder
        default: nil
        }
    }

    static func merging(_ first: SieveAction, _ second: SieveAction) -> SieveAction {
        func parts(_ action: SieveAction) -> (flags: [String], create: Bool) {
            switch action {
            case .keep(let flags): (flags, false)
            case .fileInto(_, let flags, let create): (flags, create)
            default: ([], false)
            }
        }
        let (_, firstCreate) = parts(first), (flags, secondCreate) = parts(second)
        switch first {
        case .keep: return .keep(flags: flags)
        case .fileInto(let folder, _, _): return .fileInto(folder: folder, flags: flags, create: firstCreate || secondCreate)
        default: return first
        }
    }

    /// RFC 5229 §4.1.
    static func apply(_ modifier: SetModifier, to text: String) -> String {
        switch modifier {
        case .lower: return String(text.map { $0.isASCII ? Character($0.lowercased()) : $0 })
        case .upper: return String(text.map { $0.isASCII ? Character($0.uppercased()) : $0 })
        case .lowerfirst: return (text.first.map { $0.isASCII ? $0.lowercased() : String($0) } ?? "") + text.dropFirst()
        case .upperfirst: return (text.first.map { $0.isASCII ? $0.uppercased() : String($0) } ?? "") + text.dropFirst()
        case .quotewildcard:
            var quoted = ""
            for character in text {
                if character == "*" || character == "?" || character == "\\" { quoted.append("\\") }
                quoted.append(character)
            }
            return quoted
        case .length: return String(text.count)
        }
    }
}
