import DeliveryLog
import Foundation
import SMTPCore

/// The delivery status notification letterbox sends for recipients whose RCPT asked for
/// `NOTIFY=SUCCESS` (RFC 3461 §6.2.1: the final delivery agent reports "delivered"): a
/// `multipart/report` (RFC 6522) with a human-readable part, the `message/delivery-status` part
/// (RFC 3464) and the message's header section (`text/rfc822-headers`). Postfix leaves this
/// notice to an LMTP server that announces DSN, as letterbox does.
enum SuccessNotice {
    /// One delivered recipient to report.
    struct Recipient: Sendable {
        /// The address delivered to (`Final-Recipient`).
        var final: String
        /// The client's ORCPT, as given (`Original-Recipient`).
        var original: OriginalRecipient?
    }

    /// The notice's octets, CRLF line ends, for `sender`.
    static func compose(to sender: Address, recipients: [Recipient], envelopeID: String?, headerSection: [UInt8],
                        reportingHost: String, messageID: String, arrival: Date, now: Date = Date()) -> [UInt8] {
        var octets: [UInt8] = []
        func line(_ text: String) { octets.append(contentsOf: Array((text + "\r\n").utf8)) }
        func date(_ value: Date) -> String {
            var buffer: [UInt8] = []
            Timestamp.appendRFC5322(value, to: &buffer)
            return String(decoding: buffer, as: UTF8.self)
        }
        let boundary = messageID + "/report"
        line("From: Mail Delivery System <MAILER-DAEMON@\(reportingHost)>")
        line("To: <\(sender)>")
        line("Subject: Successful Mail Delivery Report")
        line("Date: \(date(now))")
        line("Message-ID: <\(messageID)@\(reportingHost)>")
        line("Auto-Submitted: auto-replied")
        line("MIME-Version: 1.0")
        line("Content-Type: multipart/report; report-type=delivery-status;")
        line("\tboundary=\"\(boundary)\"")
        line("")
        line("This is a MIME-encapsulated message.")
        line("")
        line("--\(boundary)")
        line("Content-Description: Notification")
        line("Content-Type: text/plain; charset=us-ascii")
        line("")
        line("This is the mail system at host \(reportingHost).")
        line("")
        line("Your message was delivered to the mailbox of:")
        line("")
        for recipient in recipients { line("  <\(recipient.final)>") }
        line("")
        line("--\(boundary)")
        line("Content-Description: Delivery report")
        line("Content-Type: message/delivery-status")
        line("")
        line("Reporting-MTA: dns; \(reportingHost)")
        if let envelopeID { line("Original-Envelope-Id: \(envelopeID)") }
        line("Arrival-Date: \(date(arrival))")
        for recipient in recipients {
            line("")
            line("Final-Recipient: rfc822; \(recipient.final)")
            if let original = recipient.original { line("Original-Recipient: \(original)") }
            line("Action: delivered")
            line("Status: 2.0.0")
        }
        line("")
        line("--\(boundary)")
        line("Content-Description: Message Headers")
        line("Content-Type: text/rfc822-headers")
        line("")
        // The header section as received, its line ends made CRLF, without the empty line.
        var text = String(decoding: headerSection, as: UTF8.self)
        while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
        for header in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            line(String(header.hasSuffix("\r") ? header.dropLast() : header))
        }
        line("")
        line("--\(boundary)--")
        return octets
    }
}
