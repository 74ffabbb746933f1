import NIOCore
import Testing
@testable import SMTPCore

@Suite("The message transfer machine")
struct MessageTransferTests {
    /// Runs `transfer` over `input` until it needs more input or is over; the pieces it handed
    /// on, joined, and the actions other than pieces, by name.
    private func drive(_ transfer: inout MessageTransfer, _ input: inout ByteBuffer) -> (body: String, steps: [String]) {
        var body = ""
        var steps: [String] = []
        loop: while true {
            switch transfer.next(&input) {
            case .piece(let piece): body += String(buffer: piece)
            case .readMore: steps.append("readMore"); break loop
            case .reachedEnd: steps.append("reachedEnd")
            case .chunkComplete: steps.append("chunkComplete"); break loop
            case .fail(let error): steps.append("fail \(error.code)")
            case .finished: steps.append("finished"); break loop
            }
        }
        return (body, steps)
    }

    @Test("DATA: pieces as they arrive, dots un-stuffed, the end reported once, then finished; what follows stays in the input")
    func data() {
        var transfer = MessageTransfer(data: DataDecoder(maximumBytes: 1000))
        var input = ByteBuffer(string: "Subject: x\r\n\r\n..a")
        var (body, steps) = drive(&transfer, &input)
        #expect(steps == ["readMore"])
        input.writeString("\r\n.\r\nQUIT\r\n")
        let rest = drive(&transfer, &input)
        body += rest.body
        steps = rest.steps
        #expect(body == "Subject: x\r\n\r\n.a\r\n")
        #expect(steps == ["reachedEnd", "finished"])
        #expect(transfer.failure == nil && !transfer.endedByProtocol)
        #expect(transfer.octets == body.utf8.count)
        #expect(String(buffer: input) == "QUIT\r\n")
    }

    @Test("DATA too large: the end is reached with 552, which the reader gets once")
    func tooLarge() {
        var transfer = MessageTransfer(data: DataDecoder(maximumBytes: 4))
        var input = ByteBuffer(string: "0123456789\r\n.\r\n")
        let (_, steps) = drive(&transfer, &input)
        #expect(steps == ["reachedEnd", "fail 552", "finished"])
        #expect(transfer.failure?.code == 552)
    }

    @Test("BDAT: a chunk read whole asks for the next command; another BDAT goes on; LAST ends it")
    func chunks() {
        var transfer = MessageTransfer(chunk: 3, last: false)
        var input = ByteBuffer(string: "abc")
        var (body, steps) = drive(&transfer, &input)
        #expect(body == "abc" && steps == ["chunkComplete"])
        #expect(transfer.commandBetweenChunks(.receiveChunk(size: 2, last: true), stillReceivingChunks: true) == .nextChunk)
        input.writeString("de")
        (body, steps) = drive(&transfer, &input)
        #expect(body == "de" && steps == ["reachedEnd", "finished"])
        #expect(transfer.octets == 5 && transfer.failure == nil)
    }

    @Test("between chunks: an answered command keeps the message; a refused BDAT and a command that ends the transaction end it")
    func betweenChunks() {
        let noop = Reply(code: 250, enhancedCode: EnhancedCode(2, 0, 0), text: "OK")
        var transfer = MessageTransfer(chunk: 0, last: false)
        var input = ByteBuffer()
        #expect(drive(&transfer, &input).steps == ["chunkComplete"])
        #expect(transfer.commandBetweenChunks(.reply(noop), stillReceivingChunks: true) == .answer(noop))
        #expect(!transfer.endedByProtocol)

        let refused = Reply(code: 552, enhancedCode: EnhancedCode(5, 3, 4), text: "too big")
        #expect(transfer.commandBetweenChunks(.discardChunk(size: 7, replies: [refused], abortTransaction: true),
                                              stillReceivingChunks: false) == .discard(size: 7, replies: [refused]))
        #expect(transfer.endedByProtocol && transfer.failure?.code == 552)
        #expect(drive(&transfer, &input).steps == ["fail 552", "finished"])

        var aborted = MessageTransfer(chunk: 0, last: false)
        #expect(drive(&aborted, &input).steps == ["chunkComplete"])
        // A reply that left the chunk phase (RSET's) ends the message, and the command runs after.
        let reset = ServerAction.resetTransaction(noop)
        #expect(aborted.commandBetweenChunks(reset, stillReceivingChunks: true) == .abort)
        #expect(aborted.endedByProtocol && aborted.failure == SMTPError.dataReset)
        #expect(aborted.takePendingAction() == reset)
        #expect(aborted.takePendingAction() == nil)
        var replied = MessageTransfer(chunk: 0, last: false)
        _ = drive(&replied, &input)
        #expect(replied.commandBetweenChunks(.reply(noop), stillReceivingChunks: false) == .abort)
    }

    @Test("the connection lost mid-body: the body ends with the failure the connection throws itself")
    func connectionLost() {
        var transfer = MessageTransfer(chunk: 10, last: true)
        var input = ByteBuffer(string: "abc")
        #expect(drive(&transfer, &input).steps == ["readMore"])
        transfer.connectionEnded(SMTPError.dataReset)
        #expect(drive(&transfer, &input).steps == ["finished"])
        #expect(transfer.failure == SMTPError.dataReset && !transfer.endedByProtocol)
    }
}
