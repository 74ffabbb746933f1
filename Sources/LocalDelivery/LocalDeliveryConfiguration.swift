import Foundation
import Maildir

/// How `letterbox` delivers.
public struct LocalDeliveryConfiguration: Sendable {
    /// Where `+detail` goes (Maildir++ folders).
    public enum DetailFolders: String, Sendable, CaseIterable {
        /// The detail is ignored: always INBOX.
        case off
        /// Into the folder `.detail` if it exists, else INBOX.
        case existing
        /// Into the folder `.detail`, created on first delivery.
        case create
    }

    /// The directory holding every Maildir.
    public var mailRoot: String
    /// Where a recipient's Maildir is under the mail root: `%d` the domain, `%n` the local part
    /// (without `+detail`), `%u` the whole address, all lower-cased.
    public var mailboxTemplate: String
    /// The local domains (lower-cased); `nil` makes every domain local.
    public var domains: Set<String>?
    /// The recipient delimiter (e.g. `+`), if `local+detail` addresses are understood.
    public var recipientDelimiter: String?
    /// What a detail selects.
    public var detailFolders: DetailFolders
    /// Whether files and directories are fsynced before a delivery is acknowledged.
    public var fsync: Bool
    /// With `fsync`, whether the file is synced before its links (``SyncOrder/portable``) or,
    /// on a file system that orders data before links, after them (``SyncOrder/automatic``).
    public var syncOrder: SyncOrder
    /// A re-sent message (same Message-ID and body) within this window is not delivered twice;
    /// 0 turns suppression off.
    public var duplicateWindow: TimeInterval
    /// The name in `Received:` lines.
    public var hostname: String
    /// Answer a full mailbox with 452 4.2.2 (try later) instead of 552 5.2.2.
    public var quotaTempfail: Bool
    /// With `fsync`, how long (seconds) a delivery that has linked waits for the deliveries
    /// still on their way to their links before it syncs `new/`, so that one journal commit
    /// carries them all (see `LinkGathering`); 0 syncs at once. 2 ms by default, the best of
    /// the windows measured (docs/performance.md).
    public var linkGatherWindow: TimeInterval = 0.002
    /// The command that submits the delivery notices `NOTIFY=SUCCESS` asks for (a sendmail
    /// program and its arguments, as Dovecot's `sendmail_path`), given the notice on standard
    /// input; nil sends none (they are logged as not sent).
    public var sendmail: [String]? = nil
    /// Sieve filtering at delivery (RFC 5228), `nil` for none.
    public var sieve: SieveFiltering? = nil

    /// Where recipients' Sieve scripts are (`--sieve`, `--sieve-before`, `--sieve-after`).
    public struct SieveFiltering: Sendable, Hashable {
        /// Each user's script: `%u`, `%d`, `%n` as in the mailbox template; relative to the mail
        /// root unless absolute. `nil`: only the before and after scripts.
        public var script: String?
        /// Scripts run for every recipient before the user's, in order.
        public var before: [String]
        /// Scripts run for every recipient after the user's, in order.
        public var after: [String]
        /// Whether `fileinto` makes a folder that does not exist (else only with `:create`;
        /// without, the copy goes to the inbox).
        public var createFolders: Bool
        /// The SMTP server that `redirect` and `vacation` send through (`--sieve-relay`),
        /// plain SMTP as Pigeonhole's `submission_host`; `nil`: neither is carried out, and a
        /// script that takes them keeps the message in the inbox.
        public var relay: Relay?
        /// How long a redirect of one message to one address is remembered, so that the
        /// message delivered again (after a 4xx) is not sent on twice: 12 hours, Pigeonhole's
        /// `sieve_redirect_duplicate_period`.
        public var redirectMemory: TimeInterval = 12 * 3600

        /// A relay's address.
        public struct Relay: Sendable, Hashable {
            public var host: String
            public var port: Int

            /// A relay at `host`:`port`.
            public init(host: String, port: Int) {
                self.host = host
                self.port = port
            }
        }

        /// A Sieve configuration.
        public init(script: String?, before: [String] = [], after: [String] = [], createFolders: Bool = false,
                    relay: Relay? = nil) {
            self.script = script
            self.before = before
            self.after = after
            self.createFolders = createFolders
            self.relay = relay
        }
    }

    /// Creates a configuration.
    public init(mailRoot: String, mailboxTemplate: String = "%d/%n", domains: Set<String>? = nil,
                recipientDelimiter: String? = nil, detailFolders: DetailFolders = .off, fsync: Bool = true,
                duplicateWindow: TimeInterval = 86400, hostname: String = ProcessInfo.processInfo.hostName,
                quotaTempfail: Bool = false, syncOrder: SyncOrder = .automatic) {
        self.mailRoot = mailRoot
        self.mailboxTemplate = mailboxTemplate
        self.domains = domains.map { Set($0.map { $0.lowercased() }) }
        self.recipientDelimiter = recipientDelimiter
        self.detailFolders = detailFolders
        self.fsync = fsync
        self.duplicateWindow = duplicateWindow
        self.hostname = hostname
        self.quotaTempfail = quotaTempfail
        self.syncOrder = syncOrder
    }
}
