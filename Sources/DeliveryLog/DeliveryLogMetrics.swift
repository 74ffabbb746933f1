import CoreMetrics

/// What the delivery log reports through swift-metrics (a no-op until the program bootstraps a
/// metrics backend): every recipient row committed, by status and reply class, and how long
/// each commit took.
///
/// | Name | Kind | Dimensions |
/// |---|---|---|
/// | `letterbox_recipients_total` | counter | `status`: `delivered`, `duplicate`, `failed`, `deferred`; `class`: `2xx`, `4xx`, `5xx` |
/// | `letterbox_log_commit_seconds` | timer | |
/// | `letterbox_log_commit_rows` | recorder (a histogram) | |
///
/// Counted when the commit succeeds, so the counters agree with the rows in the log.
struct DeliveryLogMetrics: Sendable {
    let commitDuration = Timer(label: "letterbox_log_commit_seconds")
    let commitRows = Recorder(label: "letterbox_log_commit_rows")
    private let recipients: [String: Counter]

    init() {
        var recipients: [String: Counter] = [:]
        for status in DeliveryStatus.allCases {
            for replyClass in ["2xx", "4xx", "5xx"] {
                recipients[status.rawValue + replyClass] = Counter(label: "letterbox_recipients_total",
                                                                   dimensions: [("status", status.rawValue), ("class", replyClass)])
            }
        }
        self.recipients = recipients
    }

    /// A commit of `operations` succeeded after `nanoseconds`.
    func committed(_ operations: [LogOperation], nanoseconds: Int64) {
        commitDuration.recordNanoseconds(nanoseconds)
        var rows = 0
        for case .record(let record) in operations {
            for recipient in record.recipients {
                rows += 1
                recipients[recipient.status.rawValue + "\(recipient.code / 100)xx"]?.increment()
            }
        }
        commitRows.record(rows)
    }
}
