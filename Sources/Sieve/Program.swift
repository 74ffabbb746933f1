/// A checked script, ready to run: every command and test known, required and given valid
/// arguments, strings with their references parsed.
public struct SieveProgram: Sendable {
    /// The extensions the script requires.
    public let extensions: Set<String>
    /// What is accepted but probably not meant: a header name no field can have, a time zone
    /// or date part that is not one (each test is then false), as Pigeonhole warns.
    public let warnings: [SieveError]
    let statements: [Statement]
}

/// The relational operators of RFC 5231 §4.
enum RelationalOperator: String, Hashable, Sendable {
    case gt, ge, lt, le, eq, ne

    func holds(_ order: Int) -> Bool {
        switch self {
        case .gt: order > 0
        case .ge: order >= 0
        case .lt: order < 0
        case .le: order <= 0
        case .eq: order == 0
        case .ne: order != 0
        }
    }
}

/// `:is`, `:contains`, `:matches` (RFC 5228 §2.7.1), `:value` and `:count` (RFC 5231 §4).
enum MatchType: Hashable, Sendable {
    case `is`, contains, matches
    case value(RelationalOperator)
    case count(RelationalOperator)
}

/// How a test compares: its match type and comparator.
struct MatchSpec: Hashable, Sendable {
    var type: MatchType = .is
    var comparator: Comparator = .asciiCaseMap
}

/// `:localpart`, `:domain`, `:all` (RFC 5228 §2.7.4), `:user`, `:detail` (RFC 5233 §4).
enum AddressPart: Hashable, Sendable {
    case all, localPart, domain, user, detail
}

/// `:index N [:last]` (RFC 5260 §6): which occurrence of a header field a test looks at.
struct FieldIndex: Hashable, Sendable {
    var number: Int
    var fromLast: Bool
}

/// The body transforms of RFC 5173 §5.
enum BodyTransform: Hashable, Sendable {
    case raw, text
    case content([StringTemplate])
}

/// The modifiers of `set` (RFC 5229 §4.1), in the order they apply.
enum SetModifier: String, Hashable, Sendable, CaseIterable {
    case lower, upper, lowerfirst, upperfirst, quotewildcard, length

    /// RFC 5229 §4.1: higher precedence applies first (length 10, quotewildcard 20,
    /// lower/upper 40, lowerfirst/upperfirst 30).
    var precedence: Int {
        switch self {
        case .lower, .upper: 40
        case .lowerfirst, .upperfirst: 30
        case .quotewildcard: 20
        case .length: 10
        }
    }
}

/// What `addflag`, `setflag`, `removeflag` do (RFC 5232 §3).
enum FlagOperation: Hashable, Sendable {
    case set, add, remove
}

/// `vacation`'s arguments (RFC 5230 §4).
struct VacationCommand: Hashable, Sendable {
    var seconds: Int
    var subject: StringTemplate?
    var from: StringTemplate?
    var addresses: [StringTemplate]
    var mime: Bool
    var handle: StringTemplate?
    var reason: StringTemplate
}

/// A test's string list, with its strings ready when none of them has a reference to expand
/// (the usual case): running the test then makes no new list.
struct Templates: Hashable, Sendable {
    let items: [StringTemplate]
    /// The strings, when every item is constant.
    let constants: [String]?

    init(_ items: [StringTemplate]) {
        self.items = items
        self.constants = items.allSatisfy(\.isConstant) ? items.compactMap(\.constant) : nil
    }
}

indirect enum Condition: Hashable, Sendable {
    case constant(Bool)
    case not(Condition)
    case allOf([Condition])
    case anyOf([Condition])
    case address(part: AddressPart, match: MatchSpec, headers: Templates, keys: Templates, index: FieldIndex?)
    case envelope(part: AddressPart, match: MatchSpec, parts: Templates, keys: Templates)
    case header(match: MatchSpec, names: Templates, keys: Templates, index: FieldIndex?)
    case exists(Templates)
    case size(over: Bool, limit: Int)
    case string(match: MatchSpec, sources: Templates, keys: Templates)
    case hasFlag(match: MatchSpec, variables: Templates, keys: Templates)
    case mailboxExists(Templates)
    case body(match: MatchSpec, transform: BodyTransform, keys: Templates)
    case date(match: MatchSpec, zone: DateZone, header: StringTemplate, part: StringTemplate, keys: Templates, index: FieldIndex?)
    case currentDate(match: MatchSpec, zone: DateZone, part: StringTemplate, keys: Templates)
}

/// Which time zone a date test reads in (RFC 5260 §4.1).
enum DateZone: Hashable, Sendable {
    /// The local zone of the server (the default).
    case local
    /// `:zone "+0100"`.
    case fixed(StringTemplate)
    /// `:originalzone`: the zone the date was written in.
    case original
}

struct Branch: Hashable, Sendable {
    var condition: Condition
    var body: [Statement]
}

indirect enum Statement: Hashable, Sendable {
    case conditional([Branch], otherwise: [Statement]?)
    case stop
    case keep(flags: [StringTemplate]?)
    case discard
    case fileInto(StringTemplate, copy: Bool, create: Bool, flags: [StringTemplate]?)
    case redirect(StringTemplate, copy: Bool)
    case reject(StringTemplate, extended: Bool)
    case flags(FlagOperation, variable: StringTemplate?, flags: [StringTemplate])
    case set(variable: String, value: StringTemplate, modifiers: [SetModifier])
    case vacation(VacationCommand)
}
