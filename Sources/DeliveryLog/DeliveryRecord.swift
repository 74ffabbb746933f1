import Foundation
import enum SMTPCore.RFC3339

/// What happened to one recipient (the `status` column).
public enum DeliveryStatus: String, Sendable, Hashable, CaseIterable, Codable {
    /// In the Maildir, durably; the client got 2xx.
    case delivered
    /// Refused for good; the client got 5xx.
    case failed
    /// Refused for now; the client got 4xx and will retry.
    case deferred
    /// Already delivered within the duplicate window; answered 2xx without a second copy.
    case duplicate
}

/// One recipient's outcome, as recorded.
public struct RecipientRecord: Sendable, Hashable {
    public var recipient: String
    /// The DSN original recipient (ORCPT, RFC 3461), if the client gave one.
    public var originalRecipient: String?
    /// The Maildir delivered into.
    public var mailbox: String?
    /// The Maildir++ folder, when the delivery went into one.
    public var folder: String?
    /// The delivered file's name in `new/`.
    public var file: String?
    public var status: DeliveryStatus
    public var code: Int
    public var enhancedCode: String
    public var text: String
    /// How long this recipient's delivery took, in seconds.
    public var duration: Double
    /// What the recipient's Sieve scripts did (`fileinto Lists.dev; discard; error: …`), when
    /// it has any.
    public var sieve: String?
    /// The other Maildirs (folders) holding the same file, hard-linked, when its Sieve scripts
    /// stored it more than once (`mailbox` and `file` name the first copy).
    public var copies: [String] = []

    public init(recipient: String, originalRecipient: String? = nil, mailbox: String? = nil, folder: String? = nil,
                file: String? = nil, status: DeliveryStatus, code: Int, enhancedCode: String, text: String, duration: Double = 0,
                sieve: String? = nil) {
        self.recipient = recipient
        self.originalRecipient = originalRecipient
        self.mailbox = mailbox
        self.folder = folder
        self.file = file
        self.status = status
        self.code = code
        self.enhancedCode = enhancedCode
        self.text = text
        self.duration = duration
        self.sieve = sieve
    }
}

/// One LMTP/SMTP transaction and the outcome for each of its recipients.
public struct TransactionRecord: Sendable, Hashable {
    public var sessionID: String
    public var time: Date
    public var clientAddress: String?
    public var helo: String?
    /// The envelope sender; empty for the null reverse path.
    public var sender: String
    /// The message's size as stored.
    public var size: Int
    /// The message's Message-ID header field, if it has one.
    public var messageID: String?
    /// The hex SHA-256 of the message body as received.
    public var bodySHA256: String?
    /// The agent that took the transaction (its `--hostname`), for a log several agents share.
    public var host: String?
    public var recipients: [RecipientRecord]

    public init(sessionID: String, time: Date = Date(), clientAddress: String? = nil, helo: String? = nil, sender: String,
                size: Int, messageID: String? = nil, bodySHA256: String? = nil, host: String? = nil,
                recipients: [RecipientRecord]) {
        self.sessionID = sessionID
        self.time = time
        self.clientAddress = clientAddress
        self.helo = helo
        self.sender = sender
        self.size = size
        self.messageID = messageID
        self.bodySHA256 = bodySHA256
        self.host = host
        self.recipients = recipients
    }
}

/// One recorded delivery, joined with its transaction: what `letterbox deliveries` shows.
/// Its JSON has every key in every row, `null` where a value is absent.
public struct Delivery: Sendable, Hashable, Codable {
    public var id: Int64
    public var time: String
    public var recipient: String
    @NullWhenAbsent public var originalRecipient: String?
    public var sender: String
    public var status: DeliveryStatus
    public var code: Int
    public var enhancedCode: String
    public var text: String
    @NullWhenAbsent public var mailbox: String?
    @NullWhenAbsent public var folder: String?
    @NullWhenAbsent public var file: String?
    public var size: Int
    @NullWhenAbsent public var messageID: String?
    public var sessionID: String
    @NullWhenAbsent public var clientAddress: String?
    @NullWhenAbsent public var helo: String?
    public var duration: Double
    /// The agent that took it (``TransactionRecord/host``); nil in rows older than the column.
    @NullWhenAbsent public var host: String?
    /// What the recipient's Sieve scripts did (``RecipientRecord/sieve``); nil without any.
    @NullWhenAbsent public var sieve: String?

    enum CodingKeys: String, CodingKey {
        case id, time, recipient, sender, status, code, text, mailbox, folder, file, size, helo, duration, host, sieve
        case originalRecipient = "original_recipient"
        case enhancedCode = "enhanced_code"
        case messageID = "message_id"
        case sessionID = "session_id"
        case clientAddress = "client_address"
    }
}

/// RFC 3339 times in UTC with microseconds, fixed width so that text order is time order.
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        let seconds = floor(date.timeIntervalSince1970)
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let micros = Int(((date.timeIntervalSince1970 - seconds) * 1_000_000).rounded(.down))
        let year = Int(parts.tm_year) + 1900
        // Written octet by octet into the string's own storage: String(format:) goes through
        // Foundation's formatter, and appending piece by piece makes a dozen strings, on a path
        // every delivery takes.
        if (0...9999).contains(year) {
            return String(unsafeUninitializedCapacity: 27) { octets in
                var index = 0
                func put(_ value: Int, width: Int) {
                    var rest = value
                    for position in stride(from: width - 1, through: 0, by: -1) {
                        octets[index + position] = UInt8(ascii: "0") + UInt8(rest % 10)
                        rest /= 10
                    }
                    index += width
                }
                func put(_ octet: Unicode.Scalar) {
                    octets[index] = UInt8(ascii: octet)
                    index += 1
                }
                put(year, width: 4)
                put("-")
                put(Int(parts.tm_mon) + 1, width: 2)
                put("-")
                put(Int(parts.tm_mday), width: 2)
                put("T")
                put(Int(parts.tm_hour), width: 2)
                put(":")
                put(Int(parts.tm_min), width: 2)
                put(":")
                put(Int(parts.tm_sec), width: 2)
                put(".")
                put(micros, width: 6)
                put("Z")
                return index
            }
        }
        var text = ""
        text.reserveCapacity(27)
        append(Int(parts.tm_year) + 1900, width: 4, to: &text)
        text.append("-")
        append(Int(parts.tm_mon) + 1, width: 2, to: &text)
        text.append("-")
        append(Int(parts.tm_mday), width: 2, to: &text)
        text.append("T")
        appendTime(parts, to: &text)
        text.append(".")
        append(micros, width: 6, to: &text)
        text.append("Z")
        return text
    }

    /// `Sun, 29 Nov 2026 10:00:00 +0000`: the date-time of RFC 5322 §3.3, in UTC, as trace
    /// fields carry it.
    public static func rfc5322(_ date: Date) -> String {
        var octets: [UInt8] = []
        appendRFC5322(date, to: &octets)
        return String(decoding: octets, as: UTF8.self)
    }

    /// ``rfc5322(_:)`` appended to `octets`, written digit by digit (no intermediate strings:
    /// every stored message's trace header has one).
    public static func appendRFC5322(_ date: Date, to octets: inout [UInt8]) {
        var time = time_t(floor(date.timeIntervalSince1970))
        var parts = tm()
        gmtime_r(&time, &parts)
        let days: StaticString = "SunMonTueWedThuFriSat"
        let months: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"
        func name(_ table: StaticString, _ index: Int) {
            table.withUTF8Buffer { octets.append(contentsOf: $0[(index * 3)..<(index * 3 + 3)]) }
        }
        func number(_ value: Int, width: Int) {
            var count = 1
            var scan = value / 10
            while scan > 0 {
                count += 1
                scan /= 10
            }
            let end = octets.count + max(width, count)
            octets.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: max(width, count)))
            var rest = value
            var index = end - 1
            repeat {
                octets[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                index -= 1
            } while rest > 0
        }
        name(days, Int(parts.tm_wday))
        octets.append(contentsOf: ", ".utf8)
        number(Int(parts.tm_mday), width: 2)
        octets.append(UInt8(ascii: " "))
        name(months, Int(parts.tm_mon))
        octets.append(UInt8(ascii: " "))
        number(Int(parts.tm_year) + 1900, width: 4)
        octets.append(UInt8(ascii: " "))
        number(Int(parts.tm_hour), width: 2)
        octets.append(UInt8(ascii: ":"))
        number(Int(parts.tm_min), width: 2)
        octets.append(UInt8(ascii: ":"))
        number(Int(parts.tm_sec), width: 2)
        octets.append(contentsOf: " +0000".utf8)
    }

    /// `HH:MM:SS`.
    private static func appendTime(_ parts: tm, to text: inout String) {
        append(Int(parts.tm_hour), width: 2, to: &text)
        text.append(":")
        append(Int(parts.tm_min), width: 2, to: &text)
        text.append(":")
        append(Int(parts.tm_sec), width: 2, to: &text)
    }

    /// `value` (not negative) in decimal, zero-padded to `width` digits.
    private static func append(_ value: Int, width: Int, to text: inout String) {
        let digits = String(value)
        if digits.count < width { text.append(String(repeating: "0", count: width - digits.count)) }
        text.append(digits)
    }

    /// Parses an RFC 3339 time (`2026-11-29T10:00:00Z`, fractional seconds and offsets allowed).
    public static func parse(_ text: String) -> Date? {
        RFC3339.secondsSince1970(Substring(text)).map { Date(timeIntervalSince1970: $0) }
    }
}
