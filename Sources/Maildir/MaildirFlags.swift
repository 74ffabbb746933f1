/// The flags of a Maildir message, as the letters of its name's info part (`:2,` and the
/// letters in ASCII order, the Maildir convention Dovecot follows): `D` draft, `F` flagged,
/// `R` replied (answered), `S` seen, `T` trashed (deleted).
public struct MaildirFlags: Hashable, Sendable, CustomStringConvertible {
    /// The letters, sorted, each once.
    public let letters: String

    /// No flag: the message is new (`new/`, no info part).
    public static let none = MaildirFlags(letters: "")

    private init(letters: String) {
        self.letters = letters
    }

    /// The flags of these IMAP system flags (RFC 3501 §2.3.2, compared without case):
    /// `\Draft`, `\Flagged`, `\Answered`, `\Seen`, `\Deleted`. Other flags and keywords have
    /// no letter and are left out.
    public init(imapFlags: [String]) {
        var letters = Set<Character>()
        for flag in imapFlags {
            switch flag.lowercased() {
            case "\\draft": letters.insert("D")
            case "\\flagged": letters.insert("F")
            case "\\answered": letters.insert("R")
            case "\\seen": letters.insert("S")
            case "\\deleted": letters.insert("T")
            default: break
            }
        }
        self.init(letters: String(letters.sorted()))
    }

    /// Whether there is no flag.
    public var isEmpty: Bool { letters.isEmpty }

    /// The info part a name in `cur/` ends with: `:2,` and the letters.
    public var info: String { ":2," + letters }

    /// The letters.
    public var description: String { letters }
}
