import Foundation
import Sieve

// Sieve engine cost per message, without any delivery: compiling the 50-rule script of
// fifty-rules.sieve (header, address, envelope, body tests, variables, flags), then running it
// on a 4 KiB message that no early rule files away (so every rule is evaluated), many times.
// Prints microseconds per compilation and per run. Usage:
//   swift run --package-path Benchmarks -c release SieveBenchmark [runs] [script]

let runs = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 20_000 : 20_000
let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
let script = try String(contentsOfFile: CommandLine.arguments.count > 2 ? CommandLine.arguments[2] : directory + "/fifty-rules.sieve",
                        encoding: .utf8)

var body = "Hello team,\r\n\r\nThe meeting notes are below.\r\n\r\n"
while body.utf8.count < 3800 { body += "Item \(body.utf8.count): nothing unusual to report this week, all on track.\r\n" }
let message = """
Return-Path: <carol@example.net>\r
From: Carol <carol@example.net>\r
To: me+work@example.com\r
Cc: team3@example.com\r
Subject: [project] Weekly meeting notes\r
Date: Mon, 7 Dec 2026 10:00:00 +0000\r
Message-ID: <bench-1@example.net>\r
X-Spam-Score: 2\r
Content-Type: text/plain; charset=utf-8\r
\r
\(body)
"""
let octets = Array(message.utf8)

let compileStart = ContinuousClock.now
var program: SieveProgram?
let compiles = 2_000
for _ in 0..<compiles { program = try Compiler.compile(script) }
let compileTime = ContinuousClock.now - compileStart
guard let program else { fatalError("no program") }

let environment = SieveEnvironment(now: Date().timeIntervalSince1970)
var actions = 0
let runStart = ContinuousClock.now
for _ in 0..<runs {
    let parsed = SieveMessage(octets, envelopeFrom: "carol@example.net", envelopeTo: "me+work@example.com")
    actions += program.run(on: parsed, environment: environment).actions.count
}
let runTime = ContinuousClock.now - runStart
let parseStart = ContinuousClock.now
var fields = 0
for _ in 0..<runs { fields += SieveMessage(octets, envelopeFrom: "carol@example.net", envelopeTo: "me+work@example.com").fields.count }
let parseTime = ContinuousClock.now - parseStart

func microseconds(_ duration: Duration, _ count: Int) -> String {
    String(format: "%.1f", Double(duration.components.seconds) * 1e6 / Double(count) + Double(duration.components.attoseconds) / 1e12 / Double(count))
}
print("script: \(script.split(separator: "\n").filter { $0.hasPrefix("if ") }.count) rules, message: \(octets.count) octets")
print("compile: \(microseconds(compileTime, compiles)) µs per script (\(compiles) compilations)")
print("run: \(microseconds(runTime, runs)) µs per message, parsing the message included (\(runs) runs, \(actions / runs) actions each)")
print("of which parsing the message: \(microseconds(parseTime, runs)) µs (\(fields / runs) header fields)")
