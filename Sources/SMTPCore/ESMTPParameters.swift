/// Parsing and encoding of the `esmtp-param` lists of MAIL and RCPT (RFC 5321 §4.1.2):
/// `esmtp-param = esmtp-keyword ["=" esmtp-value]`, keywords case-insensitive.
enum ESMTPParameters {
    static func syntaxError(_ text: String) -> SMTPError {
        SMTPError(code: 501, enhancedCode: EnhancedCode(5, 5, 4), message: text)
    }

    /// Splits `KEY[=VALUE]` words, upper-casing keys and refusing duplicates.
    static func split(_ words: [Substring]) throws(SMTPError) -> [(key: String, value: Substring?)] {
        var seen = Set<String>()
        var result: [(key: String, value: Substring?)] = []
        for word in words {
            let key: Substring
            let value: Substring?
            if let equals = word.firstIndex(of: "=") {
                key = word[..<equals]
                value = word[word.index(after: equals)...]
            } else {
                key = word
                value = nil
            }
            // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
            guard let first = key.utf8.first, PathParser.isLetDig(first),
                  key.utf8.allSatisfy({ PathParser.isLetDig($0) || $0 == UInt8(ascii: "-") }) else {
                throw syntaxError("Bad parameter syntax: \(word.prefix(64))")
            }
            let upper = key.uppercased()
            guard seen.insert(upper).inserted else { throw syntaxError("Duplicate parameter: \(upper)") }
            result.append((upper, value))
        }
        return result
    }

    /// MAIL parameters: SIZE, BODY, SMTPUTF8, REQUIRETLS, AUTH, RET, ENVID, BY, MT-PRIORITY; any
    /// other keyword is kept in ``MailOptions/extensions``.
    static func parseMail(_ words: [Substring]) throws(SMTPError) -> MailOptions {
        var options = MailOptions()
        for (key, value) in try split(words) {
            switch key {
            case "SIZE":
                // size-value = 1*20DIGIT (RFC 1870 §3); beyond Int.max it is simply too big.
                guard let value, !value.isEmpty, value.utf8.count <= 20,
                      value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                    throw syntaxError("Bad SIZE parameter")
                }
                options.size = Int(value) ?? Int.max
            case "BODY":
                guard let value, let body = BodyType(rawValue: value.uppercased()) else {
                    throw syntaxError("Bad BODY parameter")
                }
                options.body = body
            case "SMTPUTF8":
                guard value == nil else { throw syntaxError("SMTPUTF8 takes no value") }
                options.utf8 = true
            case "REQUIRETLS":
                guard value == nil else { throw syntaxError("REQUIRETLS takes no value") }
                options.requireTLS = true
            case "AUTH":
                guard let value else { throw syntaxError("Bad AUTH parameter") }
                if value == "<>" {
                    options.auth = ""
                } else {
                    guard let decoded = XText.decode(value), !decoded.isEmpty else {
                        throw syntaxError("Bad AUTH parameter")
                    }
                    options.auth = decoded
                }
            case "RET":
                guard let value, let ret = DSNReturn(rawValue: value.uppercased()) else {
                    throw syntaxError("Bad RET parameter")
                }
                options.dsnReturn = ret
            case "ENVID":
                // RFC 3461 §4.4: printable US-ASCII, at most 100 characters.
                guard let value, let decoded = XText.decode(value), !decoded.isEmpty, decoded.utf8.count <= 100,
                      decoded.utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E }) else {
                    throw syntaxError("Bad ENVID parameter")
                }
                options.envelopeID = decoded
            case "BY":
                guard let value, let deliverBy = DeliverBy(value) else { throw syntaxError("Bad BY parameter") }
                options.deliverBy = deliverBy
            case "MT-PRIORITY":
                guard let value, let priority = MTPriority.parse(value) else {
                    throw syntaxError("Bad MT-PRIORITY parameter")
                }
                options.priority = priority
            default:
                // Whether the server offers it is the state machine's question (its configuration).
                options.extensions.append(ESMTPParameter(keyword: key, value: value.map(String.init)))
            }
        }
        return options
    }

    /// RCPT parameters: NOTIFY, ORCPT, RRVS; any other keyword is kept in ``RcptOptions/extensions``.
    static func parseRcpt(_ words: [Substring]) throws(SMTPError) -> RcptOptions {
        var options = RcptOptions()
        for (key, value) in try split(words) {
            switch key {
            case "NOTIFY":
                guard let value else { throw syntaxError("Bad NOTIFY parameter") }
                var notify: [DSNNotify] = []
                for item in value.split(separator: ",", omittingEmptySubsequences: false) {
                    guard let condition = DSNNotify(rawValue: item.uppercased()), !notify.contains(condition) else {
                        throw syntaxError("Bad NOTIFY parameter")
                    }
                    notify.append(condition)
                }
                // RFC 3461 §4.1: NEVER must appear alone.
                guard !(notify.contains(.never) && notify.count > 1) else {
                    throw syntaxError("Bad NOTIFY parameter: NEVER must appear alone")
                }
                options.notify = notify
            case "ORCPT":
                guard let value, let original = parseOriginalRecipient(value) else {
                    throw syntaxError("Bad ORCPT parameter")
                }
                options.originalRecipient = original
            case "RRVS":
                guard let value, let since = RecipientValidSince(value) else { throw syntaxError("Bad RRVS parameter") }
                options.recipientValidSince = since
            default:
                options.extensions.append(ESMTPParameter(keyword: key, value: value.map(String.init)))
            }
        }
        return options
    }

    /// `orcpt-parameter = "ORCPT=" original-recipient-address` where
    /// `original-recipient-address = addr-type ";" xtext` (RFC 3461 §4.2), and for `utf-8`
    /// `utf-8-addr-xtext / utf-8-addr-unitext` (RFC 6533 §3). At most 500 characters.
    static func parseOriginalRecipient(_ value: Substring) -> OriginalRecipient? {
        guard value.utf8.count <= 500, let semicolon = value.firstIndex(of: ";") else { return nil }
        let type = value[..<semicolon]
        let encoded = value[value.index(after: semicolon)...]
        guard let first = type.utf8.first, PathParser.isLetDig(first),
              type.utf8.allSatisfy({ PathParser.isLetDig($0) || $0 == UInt8(ascii: "-") }),
              !encoded.isEmpty else { return nil }
        let lowered = type.lowercased()
        let decoded = lowered == "utf-8" ? UniText.decode(encoded) : XText.decode(encoded)
        guard let decoded, !decoded.isEmpty else { return nil }
        return OriginalRecipient(addressType: lowered, address: decoded)
    }

    static func encode(_ options: MailOptions) -> [String] {
        var words: [String] = []
        if let body = options.body { words.append("BODY=" + body.rawValue) }
        if let size = options.size { words.append("SIZE=\(size)") }
        if options.utf8 { words.append("SMTPUTF8") }
        if options.requireTLS { words.append("REQUIRETLS") }
        if let auth = options.auth { words.append("AUTH=" + (auth.isEmpty ? "<>" : XText.encode(auth))) }
        if let ret = options.dsnReturn { words.append("RET=" + ret.rawValue) }
        if let envelopeID = options.envelopeID { words.append("ENVID=" + XText.encode(envelopeID)) }
        if let deliverBy = options.deliverBy { words.append("BY=\(deliverBy)") }
        if let priority = options.priority { words.append("MT-PRIORITY=\(priority)") }
        words += options.extensions.map(\.text)
        return words
    }

    static func encode(_ options: RcptOptions) -> [String] {
        var words: [String] = []
        if let notify = options.notify { words.append("NOTIFY=" + notify.map(\.rawValue).joined(separator: ",")) }
        if let original = options.originalRecipient {
            let encoded = original.addressType == "utf-8"
                ? UniText.encodeXText(original.address) : XText.encode(original.address)
            words.append("ORCPT=" + original.addressType + ";" + encoded)
        }
        if let since = options.recipientValidSince { words.append("RRVS=\(since)") }
        words += options.extensions.map(\.text)
        return words
    }
}
