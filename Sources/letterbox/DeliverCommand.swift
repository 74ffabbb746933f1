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
        Exit status (sysexits): 0 delivered to every recipient; 75 a temporary failure for at \
        least one (the MTA retries); 67 an unknown user; 65 a bad recipient address; 69 any \
        other permanent refusal. One line per refused recipient goes to standard error.
        """
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(name: .long, help: "A recipient (repeatable).")
    var recipient: [String]

    @Option(name: .long, help: "The envelope sender; empty or absent for <>.")
    var sender: String = ""

    @OptionGroup var delivery: DeliveryOptions

    func validate() throws {
        if recipient.isEmpty { throw ValidationError("at least one --recipient is required") }
    }

    func run() async throws {
        // Mail and the log are private to the delivery user: files 0600, directories 0700.
        umask(0o077)
        let senderPath: ReversePath
        if sender.isEmpty {
            senderPath = .null
        } else {
            guard let address = Address(sender) else { throw ExitCode(65) }
            senderPath = .mailbox(address)
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
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let configuration = try delivery.configuration(dataDir: dataDir)
        let log = try DeliveryLog(path: data.resolvedDatabase, durable: delivery.durable)
        let backend = LocalDeliveryBackend(configuration: configuration, log: log, users: try delivery.loadUsers())
        let outcomes: [SMTPError?]
        do {
            outcomes = try await backend.deliver(from: senderPath, to: addresses, body: StandardInput())
        } catch {
            FileHandle.standardError.write(Data("letterbox deliver: \(error)\n".utf8))
            throw ExitCode(75)
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
