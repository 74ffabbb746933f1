import Foundation
import Logging

/// Log lines on standard error, as text (`time level message key=value …`) or as one JSON
/// object per line, for journald and log shippers.
struct StandardErrorLogHandler: LogHandler {
    enum Format: String, CaseIterable {
        case text, json
    }

    let label: String
    let format: Format
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let time = ISO8601DateFormatter().string(from: Date())
        let line: String
        switch format {
        case .text:
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line = "\(time) \(event.level) \(event.message)" + (fields.isEmpty ? "" : " " + fields)
        case .json:
            var object: [String: String] = ["time": time, "level": "\(event.level)", "message": "\(event.message)", "label": label]
            for (key, value) in merged { object[key] = "\(value)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
