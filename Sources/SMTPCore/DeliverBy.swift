/// The `BY=` parameter of MAIL, Deliver By (RFC 2852 §4): deliver within `seconds` of the
/// server's receipt of the message, or else return it (``Mode/returnMessage``) or send a
/// "delayed" DSN and keep trying (``Mode/notify``).
///
/// `by-value = by-time ";" by-mode [by-trace]`, `by-time = ["-" / "+"] 1*9digit`,
/// `by-mode = "N" / "R"`, `by-trace = "T"` (RFC 2852 §4). A relay passes on what is left of
/// the time, the time it held the message subtracted (RFC 2852 §4.2).
public struct DeliverBy: Hashable, Sendable, CustomStringConvertible {
    /// What happens when the time runs out (RFC 2852 §4, by-mode).
    public enum Mode: String, Hashable, Sendable, CaseIterable {
        /// `N`: a "delayed" DSN, and delivery goes on.
        case notify = "N"
        /// `R`: the message is returned as undeliverable (X.4.7).
        case returnMessage = "R"
    }

    /// The largest by-time magnitude (nine digits, RFC 2852 §4).
    public static let largestTime = 999_999_999

    /// Seconds from the server's receipt; may be zero or negative with ``Mode/notify`` (the
    /// message is already late).
    public var seconds: Int
    /// What happens when the time runs out.
    public var mode: Mode
    /// `T`: the DSNs this message causes carry its trace (RFC 2852 §4, by-trace).
    public var trace: Bool

    /// A deliver-by request.
    public init(seconds: Int, mode: Mode, trace: Bool = false) {
        self.seconds = seconds
        self.mode = mode
        self.trace = trace
    }

    /// The wire form after `BY=`, e.g. `3600;R` or `-60;NT`.
    public var description: String { "\(seconds);\(mode.rawValue)\(trace ? "T" : "")" }

    /// Parses a by-value; `nil` when it does not follow RFC 2852's grammar.
    public init?(_ text: Substring) {
        guard let semicolon = text.firstIndex(of: ";") else { return nil }
        var digits = text[..<semicolon]
        var negative = false
        if let sign = digits.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        guard (1...9).contains(digits.utf8.count), digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let magnitude = Int(digits) else { return nil }
        let rest = text[text.index(after: semicolon)...].uppercased()
        guard let modeLetter = rest.first, let mode = Mode(rawValue: String(modeLetter)) else { return nil }
        let traceText = rest.dropFirst()
        guard traceText.isEmpty || traceText == "T" else { return nil }
        self.init(seconds: negative ? -magnitude : magnitude, mode: mode, trace: traceText == "T")
    }
}

/// The `MT-PRIORITY=` parameter of MAIL, Priority Message Handling (RFC 6710 §3): an
/// integer from -9 (lowest) to 9 (highest), 0 when absent.
public enum MTPriority {
    /// The values RFC 6710 §3 allows.
    public static let range = -9...9

    /// Parses `priority-value = ( ["-"] %x31-39 ) / "0"` (RFC 6710 §3: one digit, no `+`, no
    /// `-0`); `nil` otherwise.
    public static func parse(_ text: Substring) -> Int? {
        switch text.utf8.count {
        case 1:
            guard let digit = text.utf8.first, digit >= 0x30, digit <= 0x39 else { return nil }
            return Int(digit - 0x30)
        case 2:
            guard text.first == "-", let digit = text.utf8.last, digit >= 0x31, digit <= 0x39 else { return nil }
            return -Int(digit - 0x30)
        default:
            return nil
        }
    }

    /// The priority assignment policies registered for the EHLO keyword's parameter
    /// (RFC 6710 §9.2): `MIXER`, `STANAG4406`, `NSEP`.
    public static let registeredPolicies = ["MIXER", "STANAG4406", "NSEP"]
}

/// The `RRVS=` parameter of RCPT, Require-Recipient-Valid-Since (RFC 7293 §3): the recipient
/// is only to receive the message if the mailbox has belonged to the same person since
/// ``timestamp``.
///
/// `rrvs-param = "RRVS=" date-time [ ";" ( "C" / "R" ) ]` with the date-time of RFC 3339.
public struct RecipientValidSince: Hashable, Sendable, CustomStringConvertible {
    /// What a relay does when the next hop cannot check (RFC 7293 §3.1).
    public enum Action: String, Hashable, Sendable, CaseIterable {
        /// `R` (the default): refuse, 5.7.19 "RRVS test cannot be completed".
        case reject = "R"
        /// `C`: continue without the check, removing the parameter.
        case `continue` = "C"
    }

    /// The RFC 3339 date-time as sent, to be passed on unchanged by a relay.
    public var timestamp: String
    /// ``timestamp`` in seconds since 1970-01-01T00:00:00Z.
    public var secondsSince1970: Double
    /// The optional action; `nil` means `R`.
    public var action: Action?

    /// Parses an RRVS value; `nil` when the date-time is not RFC 3339's or the action is unknown.
    public init?(_ text: Substring) {
        var stamp = text
        var action: Action?
        if let semicolon = text.lastIndex(of: ";") {
            guard let parsed = Action(rawValue: text[text.index(after: semicolon)...].uppercased()) else { return nil }
            action = parsed
            stamp = text[..<semicolon]
        }
        guard let seconds = RFC3339.secondsSince1970(stamp) else { return nil }
        self.timestamp = String(stamp)
        self.secondsSince1970 = seconds
        self.action = action
    }

    /// The wire form after `RRVS=`.
    public var description: String { timestamp + (action.map { ";" + $0.rawValue } ?? "") }
}
