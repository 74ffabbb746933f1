import ArgumentParser
import DeliveryLog
import Foundation
import PostgresAccess

/// Where letterbox keeps its state: shared by `serve`, `deliver` and `deliveries`.
struct DataDirectoryOptions: ParsableArguments {
    @Option(name: .long, help: "The data directory (default ./letterbox-data, or $LETTERBOX_DATA_DIR).")
    var dataDir: String?

    @Option(name: .long, help: """
        The delivery log: a SQLite file (default <data-dir>/deliveries.sqlite) or a PostgreSQL \
        URL (postgresql://user@host/db, or postgresql://user@/db?host=/run/postgresql).
        """)
    var database: String?

    /// Read by ``ConfigFile`` before parsing; declared here for the help and the manual.
    @Option(name: .long, help: """
        A file of `option = value` lines (the one serve uses; default $LETTERBOX_CONFIG, else \
        /etc/letterbox/letterbox.conf when it exists); this command takes the options it knows \
        from it, and its command line wins.
        """)
    var config: String?

    @Option(name: .long, help: """
        Run as this user when started as root (default: the owner of the data directory, when \
        that is not root), so that no file is left owned by root.
        """)
    var user: String?

    /// Becomes the data directory's owner (or `--user`) when run as root; see ``OwnerSwitch``.
    @discardableResult
    func becomeOwner() throws -> String? {
        try OwnerSwitch.becomeOwner(of: resolvedDataDir, user: user)
    }

    var resolvedDataDir: String {
        dataDir ?? ProcessInfo.processInfo.environment["LETTERBOX_DATA_DIR"] ?? "./letterbox-data"
    }

    var resolvedDatabase: String { database ?? resolvedDataDir + "/deliveries.sqlite" }

    /// The delivery log as messages name it: a URL's password hidden.
    var displayedDatabase: String {
        PostgresLocation.isURL(resolvedDatabase) ? PostgresLocation.redacted(resolvedDatabase) : resolvedDatabase
    }
}

/// `2h`, `30m`, `45s`, `7d` (and `0`).
func parseDuration(_ text: String) -> TimeInterval? {
    guard let last = text.last else { return nil }
    let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
    if let unit = units[last], let value = Double(text.dropLast()), value >= 0 { return value * unit }
    if let value = Double(text), value >= 0 { return value }
    return nil
}
