import ArgumentParser
import Foundation
import LocalDelivery
import Maildir
import PostgresAccess
import Sieve

/// How mail is delivered: the options `serve` and `deliver` share.
struct DeliveryOptions: ParsableArguments {
    @Option(name: .long, help: "The directory holding the Maildirs (default <data-dir>/mail).")
    var mailRoot: String?

    @Option(name: .long, help: "Where a Maildir is under the mail root: %d domain, %n local part, %u address.")
    var mailboxTemplate: String = "%d/%n"

    @Option(name: .long, help: """
        The local users, the only addresses accepted: a users file (one address per line, quota=2G optional), or a \
        postgresql:// URL whose --users-query finds them.
        """)
    var users: String?

    @Option(name: .long, help: """
        With a postgresql:// --users: the query finding a user, given $1 the address (lower-cased, without \
        +detail), $2 its local part, $3 its domain; a row means the user exists, its columns quota (octets or 2G) \
        and mailbox (a path under the mail root) are read when present.
        """)
    var usersQuery: String?

    @Option(name: .long, help: "With a postgresql:// --users: how long an answer is kept (0s: not kept).")
    var usersCache: String = "30s"

    @Option(name: .long, help: "A local domain (repeatable); without it every domain is local.")
    var domain: [String] = []

    @Option(name: .long, help: "The name in the greeting and in Received: lines.")
    var hostname: String = ProcessInfo.processInfo.hostName

    @Option(name: .long, help: """
        always: fsync every message and directory before answering (on ext4 with a journal, the message's data \
        is written back before its link and made durable by new/'s fsync, whose journal commit carries it: one \
        commit instead of two); portable: the file fsynced before its link on every file system; never: no fsync.
        """)
    var fsync: FsyncMode = .always

    @Option(name: .long, help: "The recipient delimiter, e.g. + for user+detail addresses.")
    var recipientDelimiter: String?

    @Option(name: .long, help: "Where +detail goes: off (the inbox), existing (its folder if present), create.")
    var detailFolders: LocalDeliveryConfiguration.DetailFolders = .off

    @Flag(name: .long, help: "Answer a full mailbox with 452 4.2.2 (retry) instead of 552 5.2.2.")
    var quotaTempfail = false

    @Option(name: .long, help: "Suppress a re-sent message (same Message-ID and body) within this time; 0 turns it off.")
    var duplicateWindow: String = "24h"

    @Option(name: .long, help: """
        Each user's Sieve script (RFC 5228): %d, %n, %u as in --mailbox-template, under the mail root unless \
        absolute (e.g. %d/%n/.dovecot.sieve); a user without one is delivered as without Sieve. keep, fileinto \
        (flags into the file name), discard and reject are carried out here; redirect and vacation through \
        --sieve-relay.
        """)
    var sieve: String?

    @Option(name: .long, help: "A Sieve script run for every recipient before the user's (repeatable, in order).")
    var sieveBefore: [String] = []

    @Option(name: .long, help: "A Sieve script run for every recipient after the user's (repeatable, in order).")
    var sieveAfter: [String] = []

    @Flag(name: .long, help: "Sieve's fileinto makes a folder that does not exist (else only with :create; without, the copy goes to the inbox).")
    var sieveCreateFolders = false

    @Option(name: .long, help: """
        host:port of the SMTP server (plain SMTP, e.g. the MTA on the loopback) that Sieve's redirect and vacation \
        send through. A failed redirect answers that recipient 451 so the MTA retries. Without it, a script that \
        redirects or answers keeps the message in the inbox and the log says why.
        """)
    var sieveRelay: String?

    /// Whether files, directories and the log are synced before an answer.
    var durable: Bool { fsync != .never }

    /// The delivery configuration these options describe, with the mail root under `dataDir`
    /// unless given, made absolute: the log records each Maildir by the path the delivery
    /// used, which must name the same directory whatever the reader's working directory.
    func configuration(dataDir: String) throws -> LocalDeliveryConfiguration {
        guard let window = parseDuration(duplicateWindow) else {
            throw CommandFailure("bad --duplicate-window: \(duplicateWindow): a duration such as 24h, 30m or 0", status: CommandExit.configuration)
        }
        do {
            try MailboxTemplate.check(mailboxTemplate)
        } catch {
            throw CommandFailure("bad --mailbox-template: \(error)", status: CommandExit.configuration)
        }
        var configuration = LocalDeliveryConfiguration(
            mailRoot: absolutePath(mailRoot ?? dataDir + "/mail"), mailboxTemplate: mailboxTemplate, domains: domain.isEmpty ? nil : Set(domain),
            recipientDelimiter: recipientDelimiter, detailFolders: detailFolders, fsync: durable, duplicateWindow: window,
            hostname: hostname, quotaTempfail: quotaTempfail, syncOrder: fsync == .portable ? .portable : .automatic)
        configuration.sieve = try sieveFiltering()
        return configuration
    }

    /// The Sieve settings, checked: the template's escapes, and the before and after scripts,
    /// which must exist and compile (a broken one would otherwise only show in the log).
    func sieveFiltering() throws -> LocalDeliveryConfiguration.SieveFiltering? {
        guard sieve != nil || !sieveBefore.isEmpty || !sieveAfter.isEmpty else {
            if sieveCreateFolders { throw CommandFailure("--sieve-create-folders needs --sieve, --sieve-before or --sieve-after", status: CommandExit.configuration) }
            if sieveRelay != nil { throw CommandFailure("--sieve-relay needs --sieve, --sieve-before or --sieve-after", status: CommandExit.configuration) }
            return nil
        }
        let relay: LocalDeliveryConfiguration.SieveFiltering.Relay?
        do {
            relay = try sieveRelay.map { try HostPort($0, option: "--sieve-relay") }.map { .init(host: $0.host, port: $0.port) }
        } catch {
            throw CommandFailure("bad --sieve-relay: \(sieveRelay ?? ""): host:port", status: CommandExit.configuration)
        }
        if let sieve {
            do {
                try MailboxTemplate.check(sieve, file: true)
            } catch {
                throw CommandFailure("bad --sieve: \(error)", status: CommandExit.configuration)
            }
        }
        for (option, path) in sieveBefore.map({ ("--sieve-before", $0) }) + sieveAfter.map({ ("--sieve-after", $0) }) {
            let text: String
            do {
                text = try TextFile.contents(of: path)
            } catch {
                throw CommandFailure("cannot read the \(option) script: \(path): \(describe(error))", status: CommandExit.noInput)
            }
            do {
                _ = try Compiler.compile(text)
            } catch {
                throw CommandFailure("bad \(option) script: \(path): \(error.errors.first.map(\.description) ?? "")",
                                     status: CommandExit.configuration)
            }
        }
        return LocalDeliveryConfiguration.SieveFiltering(script: sieve,
                                                        before: sieveBefore.map(absolutePath), after: sieveAfter.map(absolutePath),
                                                        createFolders: sieveCreateFolders, relay: relay)
    }

    /// The users, if given: the users file read and parsed, or the users table's lookup (not
    /// connected yet).
    func loadUsers() throws -> (any UserLookup)? {
        guard let users else {
            if usersQuery != nil { throw CommandFailure("--users-query needs a postgresql:// --users", status: 78) }
            return nil
        }
        guard PostgresLocation.isURL(users) else {
            if usersQuery != nil { throw CommandFailure("--users-query needs a postgresql:// --users, not a file", status: 78) }
            return try Self.loadUsers(users)
        }
        guard let usersQuery, !usersQuery.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw CommandFailure("--users \(PostgresLocation.redacted(users)) needs --users-query", status: 78)
        }
        guard let lifetime = parseDuration(usersCache) else {
            throw CommandFailure("bad --users-cache: \(usersCache): a duration such as 30s or 0s", status: CommandExit.configuration)
        }
        do {
            return try PostgresUsers(url: users, query: usersQuery, cacheLifetime: .milliseconds(Int64(lifetime * 1000)))
        } catch {
            throw CommandFailure("bad --users: \(error)", status: 78)
        }
    }

    static func loadUsers(_ path: String) throws -> UserDirectory {
        let text: String
        do {
            text = try TextFile.contents(of: path)
        } catch {
            throw CommandFailure("cannot read the users file: \(path): \(describe(error))", status: 66)
        }
        do {
            return try UserDirectory(parsing: text)
        } catch {
            throw CommandFailure("bad users file: \(path): \(error)", status: 78)
        }
    }
}

/// `path` made absolute against the working directory, with `.`, `..`, `//` and a trailing
/// `/` taken out (symbolic links are left as they are).
func absolutePath(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.path
}
