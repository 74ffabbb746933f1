import ArgumentParser
import Foundation
import Maildir

/// A command that could not do its work for a reason at run time (a file missing or unreadable,
/// a log it cannot open), as opposed to a usage error: printed as one line,
/// `letterbox <command>: <message>`, without usage text, and the process exits with `status`.
struct CommandFailure: Error, CustomStringConvertible {
    /// What failed, naming the file, socket or address and the cause.
    var message: String
    /// The exit status (sysexits(3) where one fits; 1 otherwise).
    var status: Int32

    init(_ message: String, status: Int32 = 1) {
        self.message = message
        self.status = status
    }

    var description: String { message }
}

/// How `letterbox` ends when a command throws.
enum CommandExit {
    /// EX_TEMPFAIL: the MTA keeps the message queued and tries again later.
    static let temporaryFailure: Int32 = 75

    /// Prints what `error` says and exits with its status. `command` is the subcommand's
    /// name as given (for the line's prefix); for `deliver`, every failure that is not one of
    /// its own per-recipient verdicts (an ``ExitCode`` it threw) exits 75 (EX_TEMPFAIL),
    /// usage errors included: Postfix's pipe(8) and Exim's pipe transport bounce a message
    /// on 64 (EX_USAGE), 1 or an unknown status, and a local fault must never do that.
    static func exit(with error: any Error, command: String?) -> Never {
        let prefix = "letterbox" + (command.map { " " + $0 } ?? "")
        if let failure = error as? CommandFailure {
            FileHandle.standardError.write(Data("\(prefix): \(failure.message)\n".utf8))
            let status = command == "deliver" ? temporaryFailure : failure.status
            Foundation.exit(status)
        }
        if command == "deliver", !(error is ExitCode), LetterboxCommand.exitCode(for: error) != .success {
            FileHandle.standardError.write(Data("\(prefix): \(firstLine(LetterboxCommand.message(for: error)))\n".utf8))
            Foundation.exit(temporaryFailure)
        }
        LetterboxCommand.exit(withError: error)
    }
}

/// One line saying why `error` happened, for an operator: the system's words for an errno
/// (the caller's message names the path), else the first line of the error's description.
func describe(_ error: any Error) -> String {
    if let error = error as? MaildirError { return String(cString: strerror(error.errno)) }
    return firstLine("\(error)")
}

/// The text up to its first line break: a message stays one line.
private func firstLine(_ text: String) -> String {
    text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
}
