import Foundation
import Maildir
import NIOCore
import Synchronization

/// Holds a transaction's spool between hand-offs to the thread pool: only ever touched under
/// the lock, so each closure may use it from whichever pool thread runs it.
final class SpoolBox: Sendable {
    let spool = Mutex<MessageSpool?>(nil)
}

/// What one hand-off of ``SpoolWriter/write(_:open:final:)`` did.
struct SpoolProgress: Sendable {
    /// Whether this hand-off opened the spool.
    var opened = false
    /// Why each candidate tried before the one that took the spool could not, in the order of
    /// `candidates` (every candidate's, when none could).
    var openFailures: [any Error] = []
    /// The synced message, after the last batch.
    var spooled: SpooledMessage?
}

/// Writes a message into `tmp/` of the first Maildir among `candidates` that can take it.
struct SpoolWriter: Sendable {
    let box: SpoolBox
    let name: String
    /// The trace fields written before the body.
    let header: [UInt8]
    let lineEndings: StoredLineEndings
    /// The recipients' Maildirs, in the order of their recipients.
    let candidates: [Maildir]
    /// Whether to make the file durable after the last batch.
    let sync: Bool
    /// Whether it is fsynced then, or (where the file system allows) written back then and made
    /// durable by the syncs of `new/` after the links (``Linker/sync(_:_:)``).
    let order: SyncOrder

    /// With `open`, first makes the spool in the first candidate that can be created and
    /// written (the others before it are reported as failures); then writes `chunks`; with
    /// `final`, syncs and closes the file. Nothing is written when no candidate could be opened.
    /// A failure after the spool was opened is thrown: it concerns every recipient.
    func write(_ chunks: [ByteBuffer], open: Bool, final: Bool) throws -> SpoolProgress {
        var progress = SpoolProgress()
        try box.spool.withLock { spool in
            if open {
                for maildir in candidates {
                    do {
                        let created = try Self.openSpool(in: maildir, name: name, lineEndings: lineEndings)
                        try created.write(header)
                        spool = created
                        progress.opened = true
                        break
                    } catch {
                        progress.openFailures.append(error)
                    }
                }
            }
            guard let current = spool else { return }
            for chunk in chunks { try chunk.withUnsafeReadableBytes { try current.write($0) } }
            if final { progress.spooled = try current.finish(fsync: sync, order: order) }
        }
        return progress
    }

    /// A new spool in `maildir`'s `tmp/`; the Maildir is made (or made whole again) only when
    /// the open finds a directory missing, so a delivery to an existing one costs one open
    /// instead of three `stat`s and the path strings before it.
    static func openSpool(in maildir: Maildir, name: String, lineEndings: StoredLineEndings) throws(MaildirError) -> MessageSpool {
        do {
            return try MessageSpool(in: maildir, name: name, lineEndings: lineEndings)
        } catch where error.errno == ENOENT {
            try maildir.create()
            return try MessageSpool(in: maildir, name: name, lineEndings: lineEndings)
        }
    }

    /// Closes and removes an unfinished spool.
    func discard() {
        box.spool.withLock { $0?.discard() }
    }
}
