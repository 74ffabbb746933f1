import Foundation
import ProtocolFixtures
import Testing
@testable import SMTPCore

/// `docs/protocol.md` is the contract the server is tested against: every fixed reply the core
/// can produce must appear there verbatim (code, enhanced code and text).
@Suite("docs/protocol.md lists every reply")
struct ProtocolDocumentTests {
    static let replies: [Reply] = [
        ServerReplies.ok, ServerReplies.senderOK, ServerReplies.recipientOK, ServerReplies.queued, ServerReplies.bye,
        ServerReplies.startMailInput, ServerReplies.readyToStartTLS, ServerReplies.authenticated,
        ServerReplies.cannotVerify, ServerReplies.unrecognized, ServerReplies.lineTooLong, ServerReplies.useLHLO,
        ServerReplies.useEHLO, ServerReplies.notImplemented, ServerReplies.helloFirst, ServerReplies.lhloFirst,
        ServerReplies.nestedMail, ServerReplies.needMail, ServerReplies.needRcpt, ServerReplies.noValidRecipients,
        ServerReplies.dataAfterBDAT, ServerReplies.binaryNeedsBDAT, ServerReplies.bdatInProgress,
        ServerReplies.transactionInProgress, ServerReplies.tlsAlreadyActive, ServerReplies.alreadyAuthenticated,
        ServerReplies.encryptionRequired, ServerReplies.unknownMechanism, ServerReplies.authenticationAborted,
        ServerReplies.xclientForbidden, ServerReplies.expnNotImplemented, ServerReplies.tooManyRecipients,
        ServerReplies.messageTooBig, ServerReplies.needSMTPUTF8, ServerReplies.bareLineEnding,
        ServerReplies.tooManyErrors, ServerReplies.internalState, ServerReplies.deliverByExpired,
        SMTPError.mailboxOwnerChanged.reply,
        // The minimum in the text stands as <n> in the document.
        Reply(code: 555, enhancedCode: EnhancedCode(5, 5, 4),
              text: ServerReplies.deliverByTooShort(0).lines[0].replacingOccurrences(of: " 0 ", with: " <n> ")),
        SMTPError.authenticationFailed.reply, SMTPError.temporaryAuthenticationFailure.reply,
        ServerReplies.tooBusy,
        ServerReplies.timeoutExceeded(hostname: "<hostname>"), ServerReplies.messageTransferTooSlow(hostname: "<hostname>"),
        ServerReplies.shuttingDown(hostname: "<hostname>"), ServerReplies.tooManyConnections(hostname: "<hostname>"),
    ]

    static func document() throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/protocol.md")
        return try String(contentsOf: url, encoding: .utf8)
    }

    @Test("each fixed reply is in the table", arguments: replies)
    func listed(reply: Reply) throws {
        let text = try Self.document()
        let line = Conversation.summary(reply) + " " + reply.lines[0]
        #expect(text.contains("`" + line) || text.contains("`" + line + "`"), "missing: \(line)")
    }
}
