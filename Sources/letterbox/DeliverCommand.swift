import ArgumentParser
import DeliveryLog
import Foundation
import LocalDelivery
import Logging
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
        Exit status (sysexits): 0 delivered to every recipient (or suppressed as a duplicate); \
        67 an unknown user; 65 a bad recipient address; 69 any other permanent refusal (a full \
        mailbox); 75 everything else: a temporary failure for at least one recipient, and every \
        local fault that is not a verdict on a recipient (a bad option or configuration file, \
        the users file, the delivery log busy or broken, the disk, permissions). Postfix's \
        pipe(8) and Exim's pipe transport keep the message queued on 75 and bounce it on the \
        others. Every status but 0 comes with one line on standard error per refused \
        recipient, or one line saying what failed. A sender of MAILER-DAEMON (what pipe(8) \
        passes for bounces) or an empty one is the null sender <>.
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
        do {
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw CommandFailure("cannot create the data directory: \(dataDir): \(describe(error))")
        }
        let configuration = try delivery.configuration(dataDir: dataDir)
        let users = try delivery.loadUsers()
        let log: DeliveryLog
        do {
            log = try DeliveryLog(path: data.resolvedDatabase, durable: delivery.durable)
        } catch {
            throw CommandFailure("cannot open the delivery log: \(data.resolvedDatabase): \(describe(error))")
        }
        let backend = LocalDeliveryBackend(configuration: configuration, log: log, users: users)
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
