extension Interpreter {
    /// The decoded values of the header fields named `name` (RFC 2047 words decoded).
    /// `name` is lower-cased already (``fieldNames(_:)``).
    mutating func decodedValues(_ name: String) -> [String] {
        if let cached = decodedCache[name] { return cached }
        let values = message.values(of: name).map(HeaderDecoding.decodeEncodedWords)
        decodedCache[name] = values
        return values
    }

    /// The values `index` selects (RFC 5260 §6), all of them without one.
    static func select<Value>(_ values: [Value], _ index: FieldIndex?) -> [Value] {
        guard let index else { return values }
        let position = index.fromLast ? values.count - index.number : index.number - 1
        return values.indices.contains(position) ? [values[position]] : []
    }

    mutating func evaluate(_ condition: Condition) throws(RuntimeStop) -> Bool {
        switch condition {
        case .constant(let value):
            return value
        case .not(let inner):
            return !(try evaluate(inner))
        case .allOf(let conditions):
            for inner in conditions where !(try evaluate(inner)) { return false }
            return true
        case .anyOf(let conditions):
            for inner in conditions where try evaluate(inner) { return true }
            return false
        case .header(let match, let names, let keys, let index):
            var values: [String] = []
            for name in fieldNames(names) { values += Self.select(decodedValues(name), index) }
            return compare(values, with: expand(keys), match)
        case .address(let part, let match, let headers, let keys, let index):
            var values: [String] = []
            for name in fieldNames(headers) {
                // Without :index, one field name's part values are the same for every test.
                if index == nil, let cached = addressPartCache[AddressPartKey(name: name, part: part)] {
                    values += cached
                    continue
                }
                var found: [String] = []
                defer {
                    if index == nil { addressPartCache[AddressPartKey(name: name, part: part)] = found }
                    values += found
                }
                let parsed: [(field: String, addresses: [String])]
                if let cached = addressCache[name] {
                    parsed = cached
                } else {
                    // Addresses that are not one (no domain) are left out.
                    parsed = message.values(of: name).map { field in
                        (field, HeaderDecoding.addresses(field).filter { Addresses.mailbox($0) != nil })
                    }
                    addressCache[name] = parsed
                }
                for (field, addresses) in Self.select(parsed, index) {
                    // A field left with no address at all (an empty group, or not an address
                    // list) is compared whole by :all, as Pigeonhole does, and has no other part.
                    if addresses.isEmpty && part == .all && !field.isEmpty { found.append(field); continue }
                    for address in addresses {
                        if let value = Addresses.part(part, of: address, separator: environment.subaddressSeparator) { found.append(value) }
                    }
                }
            }
            return compare(values, with: expand(keys), match)
        case .envelope(let part, let match, let parts, let keys):
            var values: [String] = []
            for name in expand(parts) {
                let address: String?
                switch name.lowercased() {
                case "from": address = message.envelopeFrom
                case "to": address = message.envelopeTo
                default: address = nil
                }
                guard let address else { continue }
                // The null reverse path is "" whatever the part (RFC 5228 §5.4).
                if address.isEmpty { if part != .detail { values.append("") } ; continue }
                if let value = Addresses.part(part, of: address, separator: environment.subaddressSeparator) { values.append(value) }
            }
            return compare(values, with: expand(keys), match)
        case .exists(let names):
            return fieldNames(names).allSatisfy { name in message.fields.contains { $0.key == name } }
        case .size(let over, let limit):
            return over ? message.size > limit : message.size < limit
        case .string(let match, let sources, let keys):
            // RFC 5229 §5: an empty source counts as no value for :count.
            let values = expand(sources)
            if case .count = match.type { return compare(values.filter { !$0.isEmpty }, with: expand(keys), match) }
            return compare(values, with: expand(keys), match)
        case .hasFlag(let match, let variableNames, let keys):
            let present: [String]
            if variableNames.items.isEmpty {
                present = flags
            } else {
                present = expand(variableNames).flatMap { (variables[$0.lowercased()] ?? "").split(separator: " ").map(String.init) }
            }
            return compare(present, with: flagList(keys.items), match)
        case .mailboxExists(let names):
            return expand(names).allSatisfy { environment.mailboxExists($0) }
        case .body(let match, let transform, let keys):
            let key: String
            switch transform {
            case .raw: key = "raw"
            case .text: key = "text"
            case .content(let types): key = "content:" + expand(types).joined(separator: "\u{0}")
            }
            var entry = bodyCache[key] ?? (bodyParts(transform), nil, nil)
            defer { bodyCache[key] = entry }
            // :contains with i;ascii-casemap, the usual body test: the parts' octets are folded
            // once (joined by NUL, which no key holds) and searched for each key.
            if case .contains = match.type, match.comparator == .asciiCaseMap {
                let folded = entry.folded ?? Comparator.fold(Array(entry.parts.joined(separator: [0])))
                entry.folded = folded
                return expand(keys).contains { !$0.utf8.contains(0) && match.comparator.contains(folded: folded, $0) }
            }
            let values = entry.values ?? entry.parts.map { String(decoding: $0, as: UTF8.self) }
            entry.values = values
            return compare(values, with: expand(keys), match)
        case .date(let match, let zone, let header, let part, let keys, let index):
            var values: [String] = []
            let name = fieldNames([header])[0]
            for field in Self.select(decodedValues(name), index) {
                // RFC 5260 §4.1: a Received field's date is what follows its last semicolon.
                let text = name.lowercased() == "received" ? field.split(separator: ";").last.map(String.init) ?? field : field
                guard let moment = DateParts.parse(text), let offset = zoneOffset(zone, original: moment.zone),
                      let value = DateParts.part(expand(part), of: moment, in: offset) else { continue }
                values.append(value)
            }
            return compare(values, with: expand(keys), match)
        case .currentDate(let match, let zone, let part, let keys):
            let moment = DateParts.Moment(seconds: Int(environment.now.rounded(.down)), zone: environment.localZone)
            guard let offset = zoneOffset(zone, original: environment.localZone),
                  let value = DateParts.part(expand(part), of: moment, in: offset) else { return false }
            return compare([value], with: expand(keys), match)
        }
    }

    func zoneOffset(_ zone: DateZone, original: Int) -> Int? {
        switch zone {
        case .local: environment.localZone
        case .original: original
        case .fixed(let template): DateParts.offset(expand(template)) ?? environment.localZone
        }
    }

    /// The octets of what the body test compares (RFC 5173 §5): the body, or its parts.
    func bodyParts(_ transform: BodyTransform) -> [[UInt8]] {
        switch transform {
        case .raw:
            return [message.body]
        case .text:
            return MIMEParts.parts(fields: message.fields, body: message.body)
                .filter { !$0.isMultipart && $0.contentType.hasPrefix("text/") }
                .map(\.content)
        case .content(let templates):
            let wanted = expand(templates).map { $0.lowercased() }
            // A multipart part that matches is searched in its preamble and epilogue (RFC 5173 §5.2).
            return MIMEParts.parts(fields: message.fields, body: message.body).filter { part in
                wanted.contains { type in
                    type.isEmpty || part.contentType == type || (!type.utf8.contains(UInt8(ascii: "/")) && part.contentType.hasPrefix(type + "/"))
                }
            }.map(\.content)
        }
    }

    /// Whether any value matches any key (RFC 5228 §2.7.1); `:count` compares how many values
    /// there are (RFC 5231 §4.2). A successful `:matches` sets the match variables.
    mutating func compare(_ values: [String], with keys: [String], _ spec: MatchSpec) -> Bool {
        switch spec.type {
        case .count(let relation):
            let count = String(values.count)
            return keys.contains { relation.holds(spec.comparator.order(count, $0)) }
        case .value(let relation):
            return values.contains { value in keys.contains { relation.holds(spec.comparator.order(value, $0)) } }
        case .is:
            return values.contains { value in keys.contains { spec.comparator.order(value, $0) == 0 } }
        case .contains:
            return values.contains { value in keys.contains { spec.comparator.contains(value, $0) } }
        case .matches:
            for value in values {
                for key in keys {
                    if let captures = spec.comparator.matches(value, pattern: key) {
                        if program.extensions.contains("variables") { matchVariables = [value] + captures }
                        return true
                    }
                }
            }
            return false
        }
    }

    // MARK: Vacation

    /// The reply `command` makes for this message, or `nil` when RFC 5230 §4.5–4.6 and
    /// RFC 3834 §2 say not to answer it: no sender, an automatic or list message, a sender that
    /// is the recipient, or a message not addressed to the recipient at all.
    mutating func vacationReply(_ command: VacationCommand) -> VacationReply? {
        let sender = message.envelopeFrom
        guard !sender.isEmpty, let senderMailbox = Addresses.mailbox(sender) else { return nil }
        let local = senderMailbox.localPart.lowercased()
        if local == "mailer-daemon" || local.hasPrefix("owner-") || local.hasSuffix("-request") || local == "listserv"
            || local == "majordomo" { return nil }
        if let auto = message.values(of: "auto-submitted").first, auto.trimmingSpaces.lowercased() != "no" { return nil }
        if let precedence = message.values(of: "precedence").first,
           ["bulk", "list", "junk"].contains(precedence.trimmingSpaces.lowercased()) { return nil }
        for header in ["list-id", "list-help", "list-subscribe", "list-unsubscribe", "list-post", "list-owner", "list-archive"]
            where !message.values(of: header).isEmpty { return nil }
        let own = ([message.envelopeTo] + expand(command.addresses) + environment.ownAddresses).map { $0.lowercased() }
        if own.contains(sender.lowercased()) { return nil }
        var addressed = false
        for header in ["to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc"] {
            for field in message.values(of: header) where HeaderDecoding.addresses(field).contains(where: { own.contains($0.lowercased()) }) {
                addressed = true
            }
        }
        guard addressed else { return nil }
        let reason = expand(command.reason)
        let givenSubject = command.subject.map(expand)
        let original = decodedValues("subject").first
        let subject = givenSubject ?? original.map { "Auto: " + $0 } ?? "Automated reply"
        let from = command.from.map(expand)
        let handle = command.handle.map(expand)
            ?? reason + (givenSubject ?? "<default-subject>") + (from ?? "<default-from>") + (command.mime ? "<MIME>" : "<NO-MIME>")
        return VacationReply(to: sender, from: from, subject: subject, reason: reason, mime: command.mime, handle: handle,
                             seconds: command.seconds)
    }
}
