// Drives `letterbox serve` with many concurrent LMTP connections for a fixed time, each
// delivering one message after another, and samples the agent's resident memory.
//
//   LoadTest --socket PATH --pid PID [--connections 1000] [--seconds 60] [--recipients 3]
//            [--users 50] [--sample 5]
//
// Prints one line per memory sample and a summary line; exits 1 on any error or refusal
// (every transaction must get a 250 per recipient). Benchmarks/load/run.sh starts the agent,
// runs this, then checks every 250 against the files and the log.
import Foundation
import NIOCore
import SMTPClient
import SMTPCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var socket = ""
    var pid: Int32 = 0
    var connections = 1000
    var seconds = 60.0
    var recipients = 3
    var users = 50
    var sample = 5.0

    init(_ arguments: [String]) {
        var rest = arguments[...]
        while let name = rest.popFirst() {
            let value = rest.popFirst() ?? ""
            switch name {
            case "--socket": socket = value
            case "--pid": pid = Int32(value) ?? 0
            case "--connections": connections = Int(value) ?? connections
            case "--seconds": seconds = Double(value) ?? seconds
            case "--recipients": recipients = Int(value) ?? recipients
            case "--users": users = Int(value) ?? users
            case "--sample": sample = Double(value) ?? sample
            default: fatalError("unknown option \(name)")
            }
        }
        precondition(!socket.isEmpty && pid > 0, "--socket and --pid are required")
    }
}

/// The agent's resident memory in KiB, from /proc.
func residentKiB(_ pid: Int32) -> Int {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
}

final class Counters: Sendable {
    struct Values {
        var messages = 0
        var accepted = 0
        var errors: [String] = []
    }
    let values = Mutex(Values())
}

/// One connection's loop: deliver until `deadline`, count every 250.
func connection(_ index: Int, options: Options, deadline: ContinuousClock.Instant, counters: Counters) async {
    var client: Client?
    for attempt in 0..<50 where client == nil {
        do {
            client = try await Client.connect(to: .unix(path: options.socket), configuration: Client.Configuration(lmtp: true))
        } catch {
            if attempt == 49 { counters.values.withLock { $0.errors.append("connect \(index): \(error)") } }
            try? await Task.sleep(for: .milliseconds(20 * (attempt + 1)))
        }
    }
    guard let client else { return }
    var number = 0
    let body = String(repeating: "load test line, a little over sixty octets of text per line\r\n", count: 60)
    while ContinuousClock.now < deadline {
        number += 1
        let recipients = (0..<options.recipients).map { Address("user\((index * 7 + number + $0 * 13) % options.users)@load.test")! }
        do {
            let (writer, _) = try await client.beginMessage(from: .mailbox(Address("load@load.test")!), to: recipients)
            try await writer.write("Message-ID: <\(index).\(number)@load.test>\r\nSubject: load\r\n\r\n" + body)
            let statuses = try await writer.finishWithStatuses()
            let accepted = statuses.filter { $0.reply.code == 250 }.count
            counters.values.withLock { values in
                values.messages += 1
                values.accepted += accepted
                if accepted != statuses.count {
                    values.errors.append("\(index).\(number): \(statuses.map { $0.reply.description })")
                }
            }
        } catch {
            counters.values.withLock { $0.errors.append("\(index).\(number): \(error)") }
            break
        }
    }
    try? await client.quit()
}

@main
struct LoadTest {
    static func main() async {
        let options = Options(Array(CommandLine.arguments.dropFirst()))
        // A thousand connections need more than the usual 1,024 descriptors.
        #if canImport(Glibc)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        var limit = rlimit()
        getrlimit(resource, &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(resource, &limit)

        let counters = Counters()
        let start = ContinuousClock.now
        let deadline = start + .seconds(options.seconds)
        let startRSS = residentKiB(options.pid)
        print("rss at start: \(startRSS) KiB")
        let peak = await withTaskGroup(of: Int.self) { group in
            for index in 0..<options.connections {
                group.addTask { await connection(index, options: options, deadline: deadline, counters: counters); return 0 }
            }
            group.addTask {
                var peak = 0
                while ContinuousClock.now < deadline {
                    try? await Task.sleep(for: .seconds(options.sample))
                    let rss = residentKiB(options.pid)
                    peak = max(peak, rss)
                    let elapsed = (ContinuousClock.now - start).components.seconds
                    let done = counters.values.withLock { $0.messages }
                    print("t=\(elapsed)s rss=\(rss) KiB messages=\(done)")
                }
                return peak
            }
            var peak = 0
            for await value in group { peak = max(peak, value) }
            return peak
        }
        let elapsed = Double((ContinuousClock.now - start).components.seconds)
        let values = counters.values.withLock { $0 }
        let endRSS = residentKiB(options.pid)
        print("""
            summary: connections=\(options.connections) seconds=\(Int(elapsed)) messages=\(values.messages) \
            250s=\(values.accepted) errors=\(values.errors.count) msg/s=\(Int(Double(values.messages) / max(elapsed, 1))) \
            rss-start=\(startRSS)KiB rss-peak=\(peak)KiB rss-end=\(endRSS)KiB
            """)
        for error in values.errors.prefix(10) { print("error: \(error)") }
        exit(values.errors.isEmpty ? 0 : 1)
    }
}
