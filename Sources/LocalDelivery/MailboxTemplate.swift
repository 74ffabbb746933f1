/// `--mailbox-template`: where a user's Maildir is under the mail root, with `%u` (the address,
/// user@domain), `%d` (the domain) and `%n` (the local part) put in. Checked at start
/// (``check(_:)``) so that no expansion can name an unknown escape or leave the mail root.
public enum MailboxTemplate {
    /// Why a template was refused.
    public struct Problem: Error, Hashable, Sendable, CustomStringConvertible {
        /// The template.
        public var template: String
        /// What is wrong with it.
        public var reason: String

        public var description: String { "\(template): \(reason)" }
    }

    /// The escapes a template may use.
    static let escapes: Set<UInt8> = [UInt8(ascii: "u"), UInt8(ascii: "d"), UInt8(ascii: "n")]

    /// Refuses a template that uses an escape other than `%u`, `%d`, `%n`, is absolute, or has a
    /// component that is empty or starts with a dot (`.`, `..`, a hidden directory).
    /// The values put in are single path components already (an address's parts are refused
    /// at RCPT when they hold `/` or are `.`/`..`), so a template that passes keeps every
    /// expansion under the mail root.
    ///
    /// With `file`, the template names a file (a Sieve script): its last part may start with
    /// a dot (`.dovecot.sieve`), and an absolute template is allowed.
    public static func check(_ template: String, file: Bool = false) throws(Problem) {
        let utf8 = Array(template.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "%") {
                guard index + 1 < utf8.count, escapes.contains(utf8[index + 1]) else {
                    let escape = index + 1 < utf8.count ? "%" + String(decoding: [utf8[index + 1]], as: UTF8.self) : "a lone %"
                    throw Problem(template: template, reason: "unknown escape \(escape) (the escapes are %u, %d and %n)")
                }
                index += 2
            } else {
                index += 1
            }
        }
        guard file || !template.hasPrefix("/") else {
            throw Problem(template: template, reason: "must be relative to the mail root")
        }
        let sample = expand(template, user: "user@example.org", domain: "example.org", name: "user")
        if file {
            let parts = sample.split(separator: "/", omittingEmptySubsequences: false).dropFirst(sample.hasPrefix("/") ? 1 : 0)
            guard parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
                throw Problem(template: template, reason: "every part must name a directory or file (no empty part, . or ..)")
            }
            return
        }
        guard RecipientResolver.underMailRoot(sample, root: "/") != nil else {
            throw Problem(template: template, reason: "every part must name a directory under the mail root (no empty part, . or ..)")
        }
    }

    /// The template with `%u`, `%d` and `%n` put in, in one pass: what is put in is never
    /// expanded again. Any other `%` stays as it is (``check(_:)`` refuses such templates).
    static func expand(_ template: String, user: String, domain: String, name: String) -> String {
        var result = ""
        var utf8 = template.utf8[...]
        while let percent = utf8.firstIndex(of: UInt8(ascii: "%")) {
            result += Substring(utf8[..<percent])
            let next = utf8.index(after: percent)
            let value: String?
            switch next < utf8.endIndex ? utf8[next] : 0 {
            case UInt8(ascii: "u"): value = user
            case UInt8(ascii: "d"): value = domain
            case UInt8(ascii: "n"): value = name
            default: value = nil
            }
            if let value {
                result += value
                utf8 = utf8[utf8.index(after: next)...]
            } else {
                result += "%"
                utf8 = utf8[next...]
            }
        }
        result += Substring(utf8)
        return result
    }
}
