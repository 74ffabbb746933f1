import DeliveryLog
import Foundation
import SMTPCore
import Sieve

/// A vacation reply as sent (RFC 5230 §5): `From:` the recipient (or the script's `:from`),
/// `To:` the sender, the script's subject (RFC 2047-encoded when it is not ASCII), `In-Reply-To:`
/// naming the message answered and `References:` its own references and it (RFC 3834 §3.1.5),
/// `Auto-Submitted: auto-replied` (RFC 3834
/// §5), and the reason as a UTF-8 text body — or, with `:mime`, as the MIME entity the script
/// wrote. Its envelope sender is the null path (RFC 3834 §3.3), so it is never answered.
struct VacationMessage {
    let reply: VacationReply
    /// The recipient whose script answers, when the script gave no `:from`.
    let recipient: Address
    /// The answered message's Message-ID, when it has one.
    let inReplyTo: String?
    /// The answered message's References, when it has them.
    var references: String? = nil
    /// The agent's host name, for the reply's Message-ID.
    let hostname: String

    /// The message's octets, CRLF line endings.
    func encoded(at date: Date = Date()) -> [UInt8] {
        var octets: [UInt8] = []
        func field(_ name: String, _ value: String) {
            octets.append(contentsOf: "\(name): \(value)\r\n".utf8)
        }
        // The script's :from only when it is one printable line (no field can be slipped in).
        let from = reply.from.flatMap { Self.isOneLine($0) ? $0 : nil }
        field("From", from ?? "<\(recipient)>")
        field("To", "<\(reply.to)>")
        field("Subject", Self.encodedWord(reply.subject))
        octets.append(contentsOf: "Date: ".utf8)
        Timestamp.appendRFC5322(date, to: &octets)
        octets.append(contentsOf: "\r\n".utf8)
        field("Message-ID", "<vacation.\(UUID().uuidString.lowercased())@\(hostname)>")
        if let inReplyTo, Self.isOneLine(inReplyTo) {
            field("In-Reply-To", inReplyTo)
            // The thread so far and the answered message: the last 20 identifiers at most, one
            // per line, so that no line grows past RFC 5322's limits.
            let earlier = (references ?? "").split { $0 == " " || $0 == "\t" }.map(String.init).filter(Self.isOneLine)
            field("References", (earlier.suffix(19) + [inReplyTo]).joined(separator: "\r\n "))
        }
        field("Auto-Submitted", "auto-replied (vacation)")
        field("Precedence", "bulk")
        field("MIME-Version", "1.0")
        if reply.mime {
            // The script's entity: its own header fields, a blank line, its body.
            octets.append(contentsOf: Self.crlf(reply.reason).utf8)
        } else {
            field("Content-Type", "text/plain; charset=utf-8")
            field("Content-Transfer-Encoding", "8bit")
            octets.append(contentsOf: "\r\n".utf8)
            octets.append(contentsOf: Self.crlf(reply.reason).utf8)
        }
        if octets.last != UInt8(ascii: "\n") { octets.append(contentsOf: "\r\n".utf8) }
        return octets
    }

    /// Whether `text` holds no control character (no line break): it may stand in a field as it is.
    static func isOneLine(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }
    }

    /// `text` with every line ending CRLF.
    static func crlf(_ text: String) -> String {
        text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .replacingOccurrences(of: "\n", with: "\r\n")
    }

    /// `text` as it may stand in a header field: as it is when it is printable ASCII on one
    /// line, else as RFC 2047 encoded words (`=?UTF-8?B?…?=`, each at most 75 characters, never
    /// splitting a character), folded between words.
    static func encodedWord(_ text: String) -> String {
        let plain = text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F }
        if plain { return text }
        var words: [String] = []
        var pending: [UInt8] = []
        // 45 octets make 60 base64 characters: with "=?UTF-8?B?" and "?=", 72 in all.
        for character in text where !character.isNewline {
            let octets = Array(String(character).utf8)
            if pending.count + octets.count > 45 {
                words.append("=?UTF-8?B?\(Base64.encode(pending))?=")
                pending.removeAll()
            }
            pending += octets
        }
        if !pending.isEmpty { words.append("=?UTF-8?B?\(Base64.encode(pending))?=") }
        return words.joined(separator: "\r\n ")
    }
}
