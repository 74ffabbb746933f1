import ArgumentParser
import Foundation
import Maildir
import NIOCore
import NIOPosix

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

/// How `letterbox` ends when a command throws. Runtime failures exit with the sysexits(3)
/// status that says what kind of failure it was; the man pages list them.
enum CommandExit {
    /// EX_USAGE: the command line is wrong (ArgumentParser's own status for usage errors).
    static let usage: Int32 = 64
    /// EX_DATAERR: the input (a Sieve script) is wrong.
    static let dataError: Int32 = 65
    /// EX_NOINPUT: a file to read is missing or unreadable.
    static let noInput: Int32 = 66
    /// EX_NOUSER: an address is not a local user.
    static let noUser: Int32 = 67
    /// EX_NOHOST, used here for "not found": what was asked for is not there.
    static let notFound: Int32 = 68
    /// EX_UNAVAILABLE: a service (the agent, a server) does not answer.
    static let unavailable: Int32 = 69
    /// EX_CANTCREAT: a file, directory or socket cannot be made.
    static let cannotCreate: Int32 = 73
    /// EX_TEMPFAIL: the MTA keeps the message queued and tries again later.
    static let temporaryFailure: Int32 = 75
    /// EX_NOPERM: not allowed.
    static let permission: Int32 = 77
    /// EX_CONFIG: the configuration is wrong.
    static let configuration: Int32 = 78

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
    switch error {
    case let error as MaildirError: return String(cString: strerror(error.errno))
    case let error as IOError: return String(cString: strerror(error.errnoCode))
    case let error as NIOConnectionError:
        // Every address tried failed: the first one's reason, else the name's.
        if let first = error.connectionErrors.first { return describe(first.error) }
        return (error.dnsAError ?? error.dnsAAAAError).map(describe) ?? "no address to connect to"
    default: return firstLine("\(error)")
    }
}

/// The text up to its first line break: a message stays one line.
private func firstLine(_ text: String) -> String {
    text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
}
