import DeliveryLog
import Foundation
import SMTPCore

/// The trace fields the agent puts before each message it stores (RFC 5321 §4.4): its
/// `Return-Path:`, then — when there is exactly one recipient — `X-Original-To:` when the
/// recipient's original address (DSN ORCPT, RFC 3461 §4.2) differs from it, as Postfix's local
/// and virtual write it, `Delivered-To:`, and a `Received:` with `for`. With more recipients one
/// file is hard-linked to all of them, so it names none.
struct TraceFields {
    /// The transaction's reverse path (`nil`: none was given).
    let sender: ReversePath?
    /// The client's EHLO/LHLO name.
    let helo: String?
    /// The client's IP address; `nil` on a Unix socket or without a socket.
    let clientAddress: String?
    /// The agent's host name.
    let host: String
    let sessionID: String

    /// The fields as the octets the spool writes, for a message to `recipients` (distinct),
    /// each with its original address when the client gave one.
    func encoded(recipients: [(address: Address, original: String?)]) -> [UInt8] {
        // Appended as octets into one reserved array: appending to a String went through its
        // general append path for each piece.
        var header: [UInt8] = []
        header.reserveCapacity(320)
        func append(_ text: String) {
            header.append(contentsOf: text.utf8)
        }
        func append(_ address: Address) {
            append(address.localPart)
            if !address.domain.isEmpty {
                header.append(UInt8(ascii: "@"))
                append(address.domain)
            }
        }
        let only = recipients.count == 1 ? recipients[0].address : nil
        append("Return-Path: <")
        if let address = sender?.address { append(address) }
        append(">\r\n")
        if let only, let original = recipients[0].original, original.lowercased() != only.description.lowercased() {
            append("X-Original-To: ")
            append(original)
            append("\r\n")
        }
        if let only {
            append("Delivered-To: ")
            append(only)
            append("\r\n")
        }
        append("Received: from ")
        append(helo ?? "unknown")
        append(" (")
        append(clientAddress ?? "local")
        append(")\r\n\tby ")
        append(host)
        append(" (Letterbox) with LMTP id ")
        append(sessionID)
        if let only {
            append("\r\n\tfor <")
            append(only)
            append(">")
        }
        append("; ")
        Timestamp.appendRFC5322(Date(), to: &header)
        append("\r\n")
        return header
    }
}
