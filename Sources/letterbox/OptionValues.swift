import ArgumentParser
import DeliveryLog
import Foundation
import LocalDelivery
import Logging

// Options with a fixed set of values take them as enums: `--help` lists the choices, shell
// completion offers them, and a wrong value is refused with the list.

/// `--fsync`: how much is synced before a 250.
enum FsyncMode: String, CaseIterable, ExpressibleByArgument {
    /// Every message and directory, in the fastest order the file system allows.
    case always
    /// The file fsynced before its link, on every file system.
    case portable
    /// Nothing synced (tests, throw-away mail).
    case never
}

extension LocalDeliveryConfiguration.DetailFolders: ExpressibleByArgument {}
extension DeliveryStatus: ExpressibleByArgument {}
extension StandardErrorLogHandler.Format: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

/// A point in time given on the command line (`--since`, `--until`, `--older-than`'s
/// counterpart): an RFC 3339 time, a date (`2026-12-01`, midnight local time), a duration back
/// from now (`90s`, `30m`, `2h`, `7d`, `2w`), `today` or `yesterday` (midnight local time).
struct PointInTime: ExpressibleByArgument {
    /// The forms, for help texts.
    static let forms = "an RFC 3339 time, a date (2026-12-01), a duration back from now (30m, 2h, 7d), today or yesterday"

    let date: Date

    init?(argument: String) {
        guard let date = Self.parse(argument, now: Date()) else { return nil }
        self.date = date
    }

    static func parse(_ text: String, now: Date) -> Date? {
        if let date = Timestamp.parse(text) { return date }
        let calendar = Calendar.current
        switch text.lowercased() {
        case "today": return calendar.startOfDay(for: now)
        case "yesterday": return calendar.date(byAdding: .day, value: -1, to: calendar.startOfDay(for: now))
        default: break
        }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        if parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
           let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
           let date = calendar.date(from: DateComponents(year: year, month: month, day: day)),
           calendar.component(.day, from: date) == day {
            return date
        }
        return parseDuration(text).map { now.addingTimeInterval(-$0) }
    }
}
