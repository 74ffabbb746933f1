import CoreMetrics

/// What the server reports through swift-metrics (a no-op until the program bootstraps a
/// metrics backend, `MetricsSystem.bootstrap`): connections, messages, their sizes, the time
/// from DATA (or the first BDAT) to the last reply, and the replies to message bodies by class.
///
/// | Name | Kind | Dimensions |
/// |---|---|---|
/// | `smtp_connections_total` | counter | |
/// | `smtp_connections_active` | meter (a gauge) | |
/// | `smtp_messages_total` | counter | |
/// | `smtp_message_size_bytes` | recorder (a histogram) | |
/// | `smtp_data_duration_seconds` | timer | |
/// | `smtp_message_replies_total` | counter | `class`: `2xx`, `4xx`, `5xx` (one reply per recipient in LMTP, RFC 2033 §4.2; one per message in SMTP) |
///
/// The handles are made once, when the server is created: counting is then one atomic add.
struct ServerMetrics: Sendable {
    let connections = Counter(label: "smtp_connections_total")
    let activeConnections = Meter(label: "smtp_connections_active")
    let messages = Counter(label: "smtp_messages_total")
    let messageSize = Recorder(label: "smtp_message_size_bytes")
    let dataDuration = Timer(label: "smtp_data_duration_seconds")
    private let replies = ["2xx", "4xx", "5xx"].map { Counter(label: "smtp_message_replies_total", dimensions: [("class", $0)]) }

    /// A message's body ended with `codes` after `elapsed`.
    func messageEnded(octets: Int, codes: [Int], elapsed: Duration) {
        messages.increment()
        messageSize.record(octets)
        dataDuration.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        for code in codes {
            switch code / 100 {
            case 2: replies[0].increment()
            case 4: replies[1].increment()
            case 5: replies[2].increment()
            default: break
            }
        }
    }
}
