import ArgumentParser
import DeliveryLog
import Foundation
import LocalDelivery
import Logging
import Maildir
import NIOCore
import NIOPosix
import SMTPCore

/// `letterbox deliver`: one message from standard input into local Maildirs, for MTAs that
/// deliver through a pipe (like dovecot-lda).
struct DeliverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliver",
        abstract: "Deliver the message on standard input, the way serve would.",
        discussion: """
        Reads one message on standard input and delivers it as serve would, to each --recipient, \
        recording every outcome in the delivery log. For a pipe transport: Postfix's pipe(8) \
        (contrib/postfix/master.cf.pipe) or Exim's pipe transport. A --sender of MAILER-DAEMON \
        (what pipe(8) passes for a bounce), <> or an empty one is the null sender <>.

        Exit status (sysexits(3)), and what Postfix's pipe(8) and Exim's pipe transport (its \
        temp_errors default, 75:73) do with it:

        0 (EX_OK): delivered to every recipient, or suppressed as a duplicate. Postfix: sent. \
        Exim: delivered.

        65 (EX_DATAERR): a recipient address that is not valid, or a mailbox name refused \
        (550 5.1.3). Postfix: bounced (5.6.0). Exim: failed, bounced.

        67 (EX_NOUSER): an unknown user (550 5.1.1). Postfix: bounced (5.1.1). Exim: failed, \
        bounced.

        69 (EX_UNAVAILABLE): another permanent refusal: a full mailbox without \
        --quota-tempfail (552 5.2.2). Postfix: bounced (5.3.0). Exim: failed, bounced.

        75 (EX_TEMPFAIL): a temporary failure for at least one recipient, and every local fault \
        that is not a verdict on a recipient: a bad option or configuration file, the users \
        file, the delivery log busy or broken, the disk, permissions. Postfix: deferred (4.3.0), \
        kept in the queue and tried again. Exim: deferred.

        A message with several recipients exits with the first that applies of 75, 67, 65, 69. \
        Every status but 0 comes with one line on standard error per refused recipient \
        (address, code, enhanced code, text), or one line, "letterbox deliver: ...", saying \
        what failed; it is what Postfix and Exim put in their logs and bounces.
        """
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(name: .long, help: "A recipient (repeatable).")
    var recipient: [String]

    @Option(name: .long, help: "The envelope sender; empty, absent, <> or MAILER-DAEMON for the null sender.")
    var sender: String = ""

    @OptionGroup var delivery: DeliveryOptions

    func validate() throws {
        if recipient.isEmpty { throw ValidationError("at least one --recipient is required") }
    }

    /// The envelope sender `--sender` names: the null sender for an empty value, `<>`, or
    /// `MAILER-DAEMON` (any case), which Postfix's pipe(8) passes for a bounce unless its
    /// `null_sender` says otherwise.
    static func reversePath(_ sender: String) -> ReversePath? {
        let trimmed = sender.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed == "<>" || trimmed.lowercased() == "mailer-daemon" { return .null }
        let bare = trimmed.hasPrefix("<") && trimmed.hasSuffix(">") ? String(trimmed.dropFirst().dropLast()) : trimmed
        return Address(bare).map { .mailbox($0) }
    }

    func run() async throws {
        // Mail and the log are private to the delivery user: files 0600, directories 0700.
        umask(0o077)
        guard let senderPath = Self.reversePath(sender) else {
            // The envelope is the MTA's: a sender it could not have queued is a local fault.
            throw CommandFailure("not a valid sender address: \(sender)")
        }
        var addresses: [Address] = []
        for text in recipient {
            guard let address = Address(text) else {
                FileHandle.standardError.write(Data("\(text): not a valid address\n".utf8))
                throw ExitCode(65)
            }
            addresses.append(address)
        }
        let dataDir = data.resolvedDataDir
        try data.becomeOwner()
        do {
            try Maildir.makeDirectories(dataDir)
        } catch {
            throw CommandFailure("cannot create the data directory: \(dataDir): \(describe(error))")
        }
        let configuration = try delivery.configuration(dataDir: dataDir)
        let users = try delivery.loadUsers()
        let log: DeliveryLog
        do {
            log = try DeliveryLog(location: data.resolvedDatabase, durable: delivery.durable)
        } catch {
            throw CommandFailure("cannot open the delivery log: \(data.displayedDatabase): \(describe(error))")
        }
        // deliver says what happened in its own lines and exit status; the agent's per-message
        // line (info) would only repeat it into the MTA's bounce text.
        var logger = Logger(label: "letterbox.deliver")
        logger.logLevel = .warning
        let backend = LocalDeliveryBackend(configuration: configuration, log: log, users: users, logger: logger)
        let outcomes: [SMTPError?]
        do {
            outcomes = try await backend.deliver(from: senderPath, to: addresses, body: StandardInput())
        } catch {
            try? log.close()
            throw CommandFailure("delivery failed: \(describe(error))")
        }
        do {
            try log.close()
        } catch {
            FileHandle.standardError.write(Data("letterbox deliver: closing the delivery log: \(describe(error))\n".utf8))
        }
        for (address, outcome) in zip(addresses, outcomes) {
            if let outcome { FileHandle.standardError.write(Data("\(address): \(outcome.code) \(outcome.enhancedCode) \(outcome.message)\n".utf8)) }
        }
        let failures = outcomes.compactMap { $0 }
        if failures.contains(where: \.isTemporary) { throw ExitCode(75) }
        if failures.contains(where: { $0.enhancedCode == EnhancedCode(5, 1, 1) }) { throw ExitCode(67) }
        if failures.contains(where: { $0.enhancedCode == EnhancedCode(5, 1, 3) }) { throw ExitCode(65) }
        if !failures.isEmpty { throw ExitCode(69) }
    }
}

/// Standard input as a sequence of buffers, read on NIO's blocking-I/O pool.
struct StandardInput: AsyncSequence {
    typealias Element = ByteBuffer

    struct AsyncIterator: AsyncIteratorProtocol {
        mutating func next() async throws -> ByteBuffer? {
            try await NIOThreadPool.singleton.runIfActive {
                var buffer = ByteBuffer()
                let count = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 65536) { pointer in
                    Swift.max(0, read(0, pointer.baseAddress, pointer.count))
                }
                return count == 0 ? nil : buffer
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator() }
}
