/// Checks the parts of a mailbox path that come from an address, so that nothing a client sends
/// can leave the mail root or hide a file: no `/`, NUL or control character, no leading `.`
/// (which also rules out `.` and `..`), nothing empty.
public enum MailboxName {
    /// Why a name was refused.
    public enum Problem: Error, Hashable, Sendable {
        case empty
        case leadingDot
        case forbiddenCharacter(UInt8)
    }

    /// Returns the lower-cased name, or throws why it cannot be a path component.
    public static func component(_ name: String) throws(Problem) -> String {
        guard !name.isEmpty else { throw .empty }
        guard !name.hasPrefix(".") else { throw .leadingDot }
        for byte in name.utf8 where byte == UInt8(ascii: "/") || byte < 0x20 || byte == 0x7F {
            throw .forbiddenCharacter(byte)
        }
        return name.lowercased()
    }
}
