import Foundation
import Sieve
import Synchronization

/// Where a recipient's Sieve scripts are (`--sieve` with `%u`, `%d`, `%n`, relative to the mail
/// root unless absolute; `--sieve-before` and `--sieve-after` for every user, as Pigeonhole's
/// `sieve_before` and `sieve_after`), and their compiled programs: a script is compiled once and
/// again only when its file changes (another inode, size or modification time). Whether it
/// changed (or appeared, or went) is looked at with `stat` at most once per
/// ``Settings/recheckInterval`` (a second): a busy user's deliveries cost no system call, and a
/// saved script takes effect within that second.
final class SieveScripts: Sendable {
    /// Where the scripts are.
    struct Settings: Sendable, Hashable {
        /// Each user's active script, `nil` for none.
        var template: String?
        /// Scripts run before the user's, in order.
        var before: [String] = []
        /// Scripts run after the user's, in order.
        var after: [String] = []
        /// What a relative template is relative to.
        var mailRoot: String
        /// How long a script's file is taken to be unchanged after it was looked at.
        var recheckInterval: Duration = .seconds(1)
    }

    /// One script, as found.
    struct Script: Sendable {
        /// Its file.
        var path: String
        /// What its text came to.
        var loaded: Loaded
    }

    /// A script's file compiled, or why not.
    enum Loaded: Sendable {
        case program(SieveProgram)
        /// It does not compile: the errors, each with its line and column.
        case broken(SieveErrors)
        /// It could not be read (`errno`'s text).
        case unreadable(String)
    }

    /// What identifies one version of a file.
    private struct Identity: Hashable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modified: Int
        var modifiedNanoseconds: Int
    }

    /// What was found at a path, and when it was looked at.
    private struct Entry {
        /// The file's version and its program; `nil`: there was no file.
        var found: (identity: Identity, loaded: Loaded)?
        var checked: ContinuousClock.Instant
    }

    let settings: Settings
    private let cache = Mutex<[String: Entry]>([:])
    /// Past this many paths, those found missing longer ago than the recheck interval are
    /// forgotten when another is added (a site with many users without a script).
    static let forgetMissingAbove = 4096

    init(_ settings: Settings) {
        self.settings = settings
    }

    /// Whether any script is configured at all.
    var isActive: Bool { settings.template != nil || !settings.before.isEmpty || !settings.after.isEmpty }

    /// The user's script path: the template with the address put in, under the mail root when
    /// relative.
    func userScriptPath(user: String, domain: String, name: String) -> String? {
        guard let template = settings.template else { return nil }
        let expanded = MailboxTemplate.expand(template, user: user, domain: domain, name: name)
        return expanded.hasPrefix("/") ? expanded : settings.mailRoot + "/" + expanded
    }

    /// The scripts to run for a recipient, in order: the `before` ones, the user's own, the
    /// `after` ones; a file that does not exist is left out (a user without a script is
    /// delivered as without Sieve).
    func scripts(user: String, domain: String, name: String) -> [Script] {
        let paths = settings.before + [userScriptPath(user: user, domain: domain, name: name)].compactMap { $0 } + settings.after
        return paths.compactMap(load)
    }

    /// The script at `path`, compiled (from the cache when the file has not changed); `nil` when
    /// there is no such file.
    func load(_ path: String) -> Script? {
        let now = ContinuousClock.now
        let cached = cache.withLock { $0[path] }
        if let cached, now - cached.checked < settings.recheckInterval {
            return cached.found.map { Script(path: path, loaded: $0.loaded) }
        }
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT || errno == ENOTDIR {
                let interval = settings.recheckInterval
                cache.withLock { cache in
                    if cache[path] == nil, cache.count >= Self.forgetMissingAbove {
                        cache = cache.filter { $0.value.found != nil || now - $0.value.checked < interval }
                    }
                    cache[path] = Entry(found: nil, checked: now)
                }
                return nil
            }
            return Script(path: path, loaded: .unreadable(String(cString: strerror(errno))))
        }
        let identity = Identity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino), size: Int64(status.st_size),
                                modified: Int(status.st_mtim.tv_sec), modifiedNanoseconds: Int(status.st_mtim.tv_nsec))
        if let found = cached?.found, found.identity == identity {
            cache.withLock { $0[path] = Entry(found: found, checked: now) }
            return Script(path: path, loaded: found.loaded)
        }
        let loaded: Loaded
        if let data = FileManager.default.contents(atPath: path) {
            do {
                loaded = .program(try Compiler.compile(String(decoding: data, as: UTF8.self)))
            } catch {
                loaded = .broken(error)
            }
        } else {
            loaded = .unreadable(String(cString: strerror(errno)))
        }
        // An unreadable file is looked at again next time rather than remembered.
        if case .unreadable = loaded { return Script(path: path, loaded: loaded) }
        cache.withLock { $0[path] = Entry(found: (identity, loaded), checked: now) }
        return Script(path: path, loaded: loaded)
    }
}
