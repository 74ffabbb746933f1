import Foundation
import SMTPCore

extension LocalDeliveryBackend {
    /// Submits a delivery notice to `recipient` through ``LocalDeliveryConfiguration/sendmail``
    /// with the null sender (RFC 3461 §6.2: notices are sent from `<>`, so that they never
    /// cause notices of their own), after the replies went out: a notice never delays a 250,
    /// and one that cannot be submitted is logged, not retried (the message itself is
    /// delivered; a notice is the MTA's courtesy, as Postfix's are).
    func submitNotice(_ notice: [UInt8], to recipient: Address) {
        guard let command = configuration.sendmail, let program = command.first else {
            logger.warning("delivery notice not sent: no sendmail configured", metadata: ["letterbox.to": "<\(recipient)>"])
            return
        }
        let logger = logger
        Task.detached {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(command.dropFirst()) + ["-i", "-f", "<>", "--", recipient.description]
            let input = Pipe()
            let output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            process.standardError = output
            do {
                try process.run()
                try input.fileHandleForWriting.write(contentsOf: notice)
                try input.fileHandleForWriting.close()
                let said = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                if process.terminationStatus == 0 {
                    logger.info("delivery notice sent", metadata: ["letterbox.to": "<\(recipient)>"])
                } else {
                    let text = String(decoding: said, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
                    logger.error("delivery notice not sent: \(program) exited \(process.terminationStatus): \(text)",
                                 metadata: ["letterbox.to": "<\(recipient)>"])
                }
            } catch {
                logger.error("delivery notice not sent: \(program): \(error)", metadata: ["letterbox.to": "<\(recipient)>"])
            }
        }
    }
}
