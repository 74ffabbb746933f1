import enum SMTPCore.RFC3339

/// Dates for the date and currentdate tests (RFC 5260 §4–5): reading an RFC 5322 `Date:`
/// value, and the date parts a script asks for.
enum DateParts {
    /// The date parts of RFC 5260 §4.2.
    static let names: Set<String> = ["year", "month", "day", "date", "julian", "hour", "minute", "second", "time",
                                     "iso8601", "std11", "zone", "weekday"]

    /// A zone offset `+hhmm` / `-hhmm` in minutes east of UTC.
    static func offset(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard bytes.count == 5, bytes[0] == UInt8(ascii: "+") || bytes[0] == UInt8(ascii: "-"),
              bytes[1...].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let hours = Int(bytes[1] - 0x30) * 10 + Int(bytes[2] - 0x30)
        let minutes = Int(bytes[3] - 0x30) * 10 + Int(bytes[4] - 0x30)
        guard hours <= 23, minutes <= 59 else { return nil }
        return (bytes[0] == UInt8(ascii: "-") ? -1 : 1) * (hours * 60 + minutes)
    }

    /// A moment and the zone it was written in.
    struct Moment: Hashable, Sendable {
        /// Seconds since 1970-01-01T00:00:00Z.
        var seconds: Int
        /// Minutes east of UTC.
        var zone: Int
    }

    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let weekdays = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// An RFC 5322 §3.3 date-time (`[day-of-week ","] day month year hour ":" minute [":" second]
    /// zone`, obsolete zone names and comments accepted); `nil` when it is not one.
    static func parse(_ text: String) -> Moment? {
        var cleaned = ""
        var depth = 0
        for character in text {
            if character == "(" { depth += 1; continue }
            if character == ")" { depth = max(0, depth - 1); continue }
            if depth == 0 { cleaned.append(character == "," ? " " : character) }
        }
        var words = cleaned.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }).map(String.init)
        if let first = words.first, weekdays.contains(first.prefix(3).lowercased()), Int(first) == nil { words.removeFirst() }
        guard words.count >= 4, let day = Int(words[0]), let monthIndex = months.firstIndex(of: words[1].prefix(3).lowercased()),
              var year = Int(words[2]) else { return nil }
        // RFC 5322 §4.3: two-digit years.
        if words[2].count == 2 { year += year < 50 ? 2000 : 1900 } else if words[2].count == 3 { year += 1900 }
        let time = words[3].split(separator: ":").map { Int($0) }
        guard time.count == 2 || time.count == 3, let hour = time[0], let minute = time[1], let second = time.count == 3 ? time[2] : 0,
              hour <= 23, minute <= 59, second <= 60, (1...31).contains(day) else { return nil }
        var zone = 0
        if words.count >= 5 {
            if let minutes = offset(words[4]) {
                zone = minutes
            } else {
                let obsolete = ["ut": 0, "gmt": 0, "z": 0, "est": -300, "edt": -240, "cst": -360, "cdt": -300,
                                "mst": -420, "mdt": -360, "pst": -480, "pdt": -420]
                zone = obsolete[words[4].lowercased()] ?? 0
            }
        }
        let days = RFC3339.daysSince1970(year: year, month: monthIndex + 1, day: day)
        return Moment(seconds: days * 86_400 + hour * 3600 + minute * 60 + second - zone * 60, zone: zone)
    }

    /// The date `days` after 1970-01-01 (the inverse of ``RFC3339/daysSince1970(year:month:day:)``).
    static func civil(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// `part` of `moment` shown in the zone `zone` (minutes east of UTC), as RFC 5260 §4.2
    /// writes it.
    static func part(_ part: String, of moment: Moment, in zone: Int) -> String? {
        let local = moment.seconds + zone * 60
        let days = Int((Double(local) / 86_400).rounded(.down))
        let secondOfDay = local - days * 86_400
        let (year, month, day) = civil(days)
        let hour = secondOfDay / 3600, minute = secondOfDay / 60 % 60, second = secondOfDay % 60
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        func four(_ value: Int) -> String { String(repeating: "0", count: max(0, 4 - String(value).count)) + String(value) }
        let zoneText = (zone < 0 ? "-" : "+") + two(abs(zone) / 60) + two(abs(zone) % 60)
        switch part.lowercased() {
        case "year": return four(year)
        case "month": return two(month)
        case "day": return two(day)
        case "date": return "\(four(year))-\(two(month))-\(two(day))"
        // Modified Julian Day: days since 1858-11-17.
        case "julian": return String(days + 40_587)
        case "hour": return two(hour)
        case "minute": return two(minute)
        case "second": return two(second)
        case "time": return "\(two(hour)):\(two(minute)):\(two(second))"
        case "iso8601": return "\(four(year))-\(two(month))-\(two(day))T\(two(hour)):\(two(minute)):\(two(second))" + (zoneText.prefix(3) + ":" + zoneText.suffix(2))
        case "std11":
            let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][((days % 7) + 7) % 7]
            let monthName = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][month - 1]
            return "\(weekday), \(two(day)) \(monthName) \(four(year)) \(two(hour)):\(two(minute)):\(two(second)) \(zoneText)"
        case "zone": return zoneText
        case "weekday": return String((((days % 7) + 7) % 7 + 4) % 7)
        default: return nil
        }
    }
}
