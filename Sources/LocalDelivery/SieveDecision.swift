import Foundation
import Maildir
import SMTPCore
import Sieve

/// Where a recipient's Sieve scripts send the message, from their results (RFC 5228 §2.10),
/// run in sequence as Pigeonhole runs `sieve_before`, the user's script and `sieve_after`: the
/// next script runs only while the message is still kept (the implicit keep stands, or the
/// script kept it with `keep`); the last script's implicit keep applies, earlier ones' do not.
/// A script that does not compile or fails while running keeps the message in the inbox, and
/// its error is recorded, as in Pigeonhole.
struct SieveDecision: Sendable {
    /// The copies to make; empty when the message is discarded or rejected.
    var destinations: [Recipient.Destination] = []
    /// The recipient's reply when a script rejected the message (RFC 5429: 550 5.7.1).
    var refusal: SMTPError?
    /// What the scripts did, for the log (`fileinto Lists.dev; keep flags \Seen`).
    var summary: [String] = []
    /// The messages to send through the relay (`redirect`, `vacation`), in the scripts' order;
    /// ``SieveSubmission`` sends them before the recipient's copies are linked.
    var sends: [SieveAction] = []

    /// Whether the message is neither stored nor refused: the scripts discarded it.
    var isDiscard: Bool { destinations.isEmpty && refusal == nil }

    /// The decision of `scripts` (in order) for `target` on `message`.
    static func decide(_ scripts: [SieveScripts.Script], message: SieveMessage, target: DeliveryTarget,
                       environment: SieveEnvironment, createFolders: Bool, canSend: Bool) -> SieveDecision {
        var actions: [SieveAction] = []
        var implicitKeep = true
        var keepFlags: [String] = []
        var errors: [String] = []
        sequence: for script in scripts {
            let name = script.path.split(separator: "/").last.map(String.init) ?? script.path
            switch script.loaded {
            case .unreadable(let reason):
                errors.append("\(name): cannot read: \(reason)")
                break sequence
            case .broken(let failure):
                errors.append("\(name): " + (failure.errors.first.map(\.description) ?? "does not compile"))
                break sequence
            case .program(let program):
                let result = program.run(on: message, environment: environment)
                if let error = result.runtimeError {
                    errors.append("\(name): \(error)")
                    break sequence
                }
                actions += result.actions
                implicitKeep = result.implicitKeep
                keepFlags = result.implicitKeepFlags
                // The sequence goes on only while the message is kept (explicitly or not).
                guard result.implicitKeep || result.actions.contains(where: { if case .keep = $0 { true } else { false } }) else {
                    break sequence
                }
            }
        }
        // Nothing of a failed sequence is carried out but the keep, as on a runtime error.
        if !errors.isEmpty { return kept(target, errors: errors) }
        return decide(actions, implicitKeep: implicitKeep, keepFlags: keepFlags, target: target, createFolders: createFolders,
                      canSend: canSend)
    }

    /// The destinations, refusal and messages to send of a sequence's actions. Without a relay
    /// (`canSend` false) a redirect or a vacation cannot be carried out: the message is kept in
    /// the inbox and the log says why, as on a runtime error.
    static func decide(_ actions: [SieveAction], implicitKeep: Bool, keepFlags: [String], target: DeliveryTarget,
                       createFolders: Bool, canSend: Bool) -> SieveDecision {
        var decision = SieveDecision()
        func fail(_ reason: String) -> SieveDecision { kept(target, errors: [reason]) }
        for action in actions {
            switch action {
            case .keep(let flags):
                decision.destinations.append(Recipient.Destination(maildir: target.inbox, flags: MaildirFlags(imapFlags: flags)))
                decision.summary.append("keep" + Self.flagsText(flags))
            case .fileInto(let folder, let flags, let create):
                let maildir: Maildir
                if folder.uppercased() == "INBOX" {
                    maildir = target.inbox
                } else {
                    // A Maildir++ folder is one directory `.name` under the inbox.
                    guard (try? MailboxName.component(folder)) != nil else { return fail("fileinto: \"\(folder)\" cannot name a folder") }
                    maildir = target.inbox.folder(folder)
                }
                // A folder that is not there and may not be made: the copy goes to the inbox,
                // as Dovecot keeps a message whose fileinto failed.
                if !(create || createFolders), maildir.path != target.inbox.path, !maildir.exists {
                    decision.destinations.append(Recipient.Destination(maildir: target.inbox, flags: MaildirFlags(imapFlags: flags)))
                    decision.summary.append("fileinto \(folder) (no such folder: kept in the inbox)" + Self.flagsText(flags))
                    continue
                }
                decision.destinations.append(Recipient.Destination(maildir: maildir, flags: MaildirFlags(imapFlags: flags)))
                decision.summary.append("fileinto \(folder)" + Self.flagsText(flags))
            case .reject(let reason, _):
                // One line of printable US-ASCII (RFC 5321 §4.2): the reply is one line per
                // recipient (RFC 2033 §4.2); other characters become "?".
                let line = String(String.UnicodeScalarView(reason.split(whereSeparator: \.isNewline).joined(separator: " ")
                    .unicodeScalars.map { $0.value >= 0x20 && $0.value < 0x7F ? $0 : "?" }))
                decision.refusal = SMTPError(code: 550, enhancedCode: EnhancedCode(5, 7, 1),
                                             message: "<\(target.address)> " + (line.isEmpty ? "Rejected" : line))
                decision.summary.append("reject")
            case .discard:
                decision.summary.append("discard")
            case .redirect(let address):
                guard canSend else { return fail("redirect to \(address): no --sieve-relay to send it through") }
                guard Address(address) != nil else { return fail("redirect: \"\(address)\" is not an address") }
                decision.sends.append(action)
            case .vacation(let reply):
                guard canSend else { return fail("vacation reply to \(reply.to): no --sieve-relay to send it through") }
                decision.sends.append(action)
            }
        }
        if implicitKeep {
            decision.destinations.append(Recipient.Destination(maildir: target.inbox, flags: MaildirFlags(imapFlags: keepFlags)))
            decision.summary.append("keep (implicit)" + Self.flagsText(keepFlags))
        }
        // A rejected message is neither stored nor sent on (RFC 5429 §2.1: reject is
        // incompatible with redirect and vacation).
        if decision.refusal != nil {
            decision.destinations = []
            decision.sends = []
        }
        return decision
    }

    /// The message kept in the inbox because of `errors`, which the summary names.
    static func kept(_ target: DeliveryTarget, errors: [String]) -> SieveDecision {
        SieveDecision(destinations: [Recipient.Destination(maildir: target.inbox)], summary: errors.map { "error: " + $0 } + ["keep"])
    }

    static func flagsText(_ flags: [String]) -> String {
        flags.isEmpty ? "" : " flags " + flags.joined(separator: " ")
    }
}
