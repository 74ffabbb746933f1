import Foundation
import Testing
import TestSupport

/// `serve --metrics`: the Prometheus endpoint, scraped while the agent delivers, agrees with
/// the delivery log.
@Suite("Metrics", .timeLimit(.minutes(1)))
struct MetricsTests {
    /// The samples of a scrape: `name{labels}` → value.
    static func scrape(_ url: String) async throws -> [String: Double] {
        let fetched = try await python("import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())", [url])
        #expect(fetched.status == 0, "\(fetched.output)")
        var samples: [String: Double] = [:]
        for line in fetched.output.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Double(parts[1]) { samples[String(parts[0])] = value }
        }
        return samples
    }

    @Test("the counters during and after deliveries match the log: delivered, duplicate, refused; messages, connections, replies by class")
    func countersMatchTheLog() async throws {
        try await withTemporaryDirectory { directory in
            try "alice@x.test\nbob@x.test\n".write(toFile: directory + "/users", atomically: true, encoding: .utf8)
            let agent = try await AgentProcess.start(in: directory + "/data", ["--metrics", "127.0.0.1:0", "--users", directory + "/users"])
            defer { agent.stop() }
            let line = try await agent.waitForOutput("/metrics")
            let port = try #require(line.firstMatch(of: /metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/)?.output.1)
            let url = "http://127.0.0.1:\(port)/metrics"

            #expect(try await agent.send(id: "m1@x.test", to: ["alice@x.test", "bob@x.test"]).map(\.code) == [250, 250])
            let during = try await Self.scrape(url)
            #expect(during["letterbox_recipients_total{status=\"delivered\",class=\"2xx\"}"] == 2)
            #expect(during["smtp_messages_total"] == 1)
            #expect(during["smtp_connections_active"] == 0)

            #expect(try await agent.send(id: "m1@x.test", to: ["alice@x.test"]).map(\.code) == [250])   // the same again
            #expect(try await agent.send(id: "m2@x.test", to: ["bob@x.test"]).map(\.code) == [250])
            #expect(try await agent.rcptCodes(["carol@x.test"]) == [550])                                 // not a user

            let samples = try await Self.scrape(url)
            let stats = try await agent.letterbox(["deliveries", "stats", "--json"])
            let counts = try #require(try JSONSerialization.jsonObject(with: Data(stats.output.utf8)) as? [String: Any])
            func sample(_ status: String, _ replyClass: String) -> Double? {
                samples["letterbox_recipients_total{status=\"\(status)\",class=\"\(replyClass)\"}"]
            }
            #expect(sample("delivered", "2xx") == (counts["delivered"] as? Double), "\(samples)")
            #expect(sample("duplicate", "2xx") == (counts["duplicate"] as? Double))
            #expect(sample("failed", "5xx") == (counts["failed"] as? Double))
            #expect(counts["delivered"] as? Int == 3 && counts["duplicate"] as? Int == 1 && counts["failed"] as? Int == 1)
            #expect(samples["smtp_messages_total"] == 3)
            #expect(samples["smtp_message_replies_total{class=\"2xx\"}"] == 4)
            // Four sessions, and the harness's probe at start when the server served it before
            // the probe hung up.
            #expect([4, 5].contains(samples["smtp_connections_total"] ?? 0), "\(samples["smtp_connections_total"] ?? 0)")
            #expect(samples["smtp_message_size_bytes_count"] == 3)
            #expect(samples["letterbox_log_commit_seconds_count"].map { $0 >= 1 } == true)
            #expect(samples["letterbox_maildir_sync_seconds_count"] == 3)   // every message that reached its links
            #expect(samples["smtp_data_duration_seconds_count"] == 3)

            let missing = try await python("""
                import sys, urllib.request, urllib.error
                try:
                    urllib.request.urlopen(sys.argv[1])
                except urllib.error.HTTPError as error:
                    print(error.code)
                """, ["http://127.0.0.1:\(port)/other"])
            #expect(missing.output == "404\n")
        }
    }
}
