// Throughput of the SMTPCore hot paths: DATA decoding and command parsing.
//
//   swift run -c release CoreBenchmark
//
// Prints MB/s for decoding a 1 MiB body (plain, and with every line dot-stuffed) fed in
// 64 KiB reads as a server would, and lines/s for parsing a mix of commands. Each figure is
// the median of several timed rounds after a warm-up.
import NIOCore
import SMTPCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

/// A 1 MiB body of 78-octet lines, each starting with a dot when `stuffed`, then the terminator.
func makeStream(stuffed: Bool) -> ByteBuffer {
    var buffer = ByteBufferAllocator().buffer(capacity: 1 << 21)
    let text = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 2)
    let line = String(text.prefix(stuffed ? 75 : 76))
    var size = 0
    while size < 1 << 20 {
        if stuffed { buffer.writeString("..") }
        buffer.writeString(line)
        buffer.writeString("\r\n")
        size += 78
    }
    buffer.writeString(".\r\n")
    return buffer
}

func decodeThroughput(stuffed: Bool, rounds: Int) -> (mbPerSecond: Double, bodyBytes: Int) {
    let stream = makeStream(stuffed: stuffed)
    let readSize = 64 * 1024
    // Split into the reads a socket would deliver.
    var reads: [ByteBuffer] = []
    var copy = stream
    while copy.readableBytes > 0 { reads.append(copy.readSlice(length: min(readSize, copy.readableBytes))!) }

    var bodyBytes = 0
    var timings: [Double] = []
    for round in 0..<(rounds + 3) {
        let start = now()
        let repetitions = 20
        for _ in 0..<repetitions {
            var decoder = DataDecoder(maximumBytes: 50 << 20)
            bodyBytes = 0
            for read in reads {
                var input = read
                if decoder.decode(&input, body: { bodyBytes += $0.readableBytes }) != nil { break }
            }
        }
        let elapsed = now() - start
        if round >= 3 { timings.append(Double(stream.readableBytes * repetitions) / elapsed / 1e6) }
    }
    return (median(timings), bodyBytes)
}

func parseThroughput(rounds: Int) -> Double {
    let lines = [
        "EHLO client.example.org",
        "MAIL FROM:<sender.name+tag@example.org> SIZE=4096 BODY=8BITMIME",
        "RCPT TO:<recipient@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;recipient@example.net",
        "RCPT TO:<second@example.net>",
        "DATA",
        "RSET",
        "NOOP",
        "QUIT",
    ].map { ByteBuffer(string: $0) }
    let parser = CommandParser()
    var timings: [Double] = []
    var parsed = 0
    for round in 0..<(rounds + 3) {
        let iterations = 50_000
        let start = now()
        for _ in 0..<iterations {
            for line in lines {
                if (try? parser.parse(line)) != nil { parsed += 1 }
            }
        }
        let elapsed = now() - start
        if round >= 3 { timings.append(Double(iterations * lines.count) / elapsed) }
    }
    precondition(parsed > 0)
    return median(timings)
}

func row(_ label: String, _ value: Double, _ unit: String) -> String {
    let number = String(Int(value.rounded()))
    return label.padding(44) + String(repeating: " ", count: max(0, 12 - number.count)) + number + " " + unit
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}

@main
struct CoreBenchmark {
    static func main() {
        let rounds = 7
        let plain = decodeThroughput(stuffed: false, rounds: rounds)
        let stuffed = decodeThroughput(stuffed: true, rounds: rounds)
        let lines = parseThroughput(rounds: rounds)
        print("SMTPCore benchmark (median of \(rounds) rounds)")
        print(row("DATA decode, 1 MiB plain body", plain.mbPerSecond, "MB/s"))
        print(row("DATA decode, 1 MiB every line dot-stuffed", stuffed.mbPerSecond, "MB/s"))
        print(row("command parsing (8-command mix)", lines, "lines/s"))
        print("decoded body octets: plain \(plain.bodyBytes), dot-stuffed \(stuffed.bodyBytes)")
    }
}
