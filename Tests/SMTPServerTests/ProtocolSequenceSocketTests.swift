import NIOCore
import ProtocolFixtures
import SMTPCore
import SMTPServer
import Testing
import TestSupport

/// The sequences of docs/protocol.md that the state-machine tests check, replayed line by line
/// against a real server over a socket. Sequences that need TLS, SASL or a proxy backend are
/// covered by their own suites.
@Suite("Every protocol sequence over a socket", .timeLimit(.minutes(1)))
struct ProtocolSequenceSocketTests {
    static let runnable = ProtocolSequence.all.filter { sequence in
        !sequence.facts.tlsActive && !sequence.lines.contains { line in
            ["AUTH", "STARTTLS", "XCLIENT", "XFORWARD"].contains(line.split(separator: " ").first?.uppercased() ?? "")
        }
    }

    /// `code enhanced-code` of a raw reply, as the fixtures write it.
    static func summary(_ lines: [String]) -> String {
        guard let last = lines.last, last.count >= 3 else { return "<closed>" }
        let code = String(last.prefix(3))
        let text = last.dropFirst(4)
        if let (enhanced, _) = EnhancedCode.parsePrefix(text), enhanced.statusClass == Int(code.prefix(1)) {
            return "\(code) \(enhanced)"
        }
        return code
    }

    @Test("replays with the same replies", arguments: runnable)
    func replay(_ sequence: ProtocolSequence) async throws {
        let counts = sequence.replayAgainstStateMachine().map(\.count)
        var configuration = Server.Configuration(session: sequence.configuration, readTimeout: .seconds(10))
        if sequence.facts.trusted { configuration.secureNetworks = [CIDR("127.0.0.0/8")!] }
        var behaviour = Behaviour()
        behaviour.lmtp = sequence.configuration.lmtp
        try await withServer(configuration, behaviour: behaviour) { address, _, _ in
            try await TestClient.with(address) { client in
                try await client.reply()
                var got: [String] = []
                lines: for (line, count) in zip(sequence.lines, counts) {
                    try await client.line(line)
                    let words = line.split(separator: " ")
                    if words.first?.uppercased() == "BDAT", words.count >= 2, let size = Int(words[1]) {
                        try await client.send(String(repeating: "x", count: size))
                    }
                    for _ in 0..<count {
                        let reply = try await client.readReply()
                        if reply.isEmpty { break lines }
                        got.append(Self.summary(reply))
                        if got.last == "354" { try await client.send("body\r\n.\r\n") }
                    }
                }
                #expect(got == sequence.expected, "\(sequence.name)")
            }
        }
    }
}
