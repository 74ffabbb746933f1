import ArgumentParser
import DeliveryLog
import Foundation

/// `letterbox deliveries`: what happened to the mail.
struct DeliveriesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliveries",
        abstract: "Inspect the delivery log.",
        subcommands: [List.self, Show.self, Stats.self, VerifyCommand.self, PruneCommand.self]
    )

    /// The log, opened read-only: these commands never write to it, so they are safe beside
    /// a running agent (see ``DeliveryLogReader``).
    static func open(_ data: DataDirectoryOptions) throws -> DeliveryLogReader {
        try data.becomeOwner()
        do {
            return try DeliveryLogReader(location: data.resolvedDatabase)
        } catch let error as DeliveryLogError {
            throw CommandFailure(error.description)
        } catch {
            throw CommandFailure("cannot open the delivery log: \(data.displayedDatabase): \(describe(error))")
        }
    }

    static func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List deliveries, newest first.")

        @OptionGroup var data: DataDirectoryOptions
        @Option(help: "Only this recipient.") var recipient: String?
        @Option(help: "Only this sender.") var sender: String?
        @Option(help: "Only this outcome.") var status: DeliveryStatus?
        @Option(help: "From this time: \(PointInTime.forms).") var since: PointInTime?
        @Option(help: "Before this time, in the same forms as --since.") var until: PointInTime?
        @Option(name: .customLong("message-id"), help: "Only this Message-ID.") var messageID: String?
        @Option(help: "Only what the agent with this host name took (a log several agents share).") var host: String?
        @Option(help: "At most this many.") var limit: Int = 100
        @Flag(help: "Print a JSON array.") var json = false

        func run() async throws {
            var filter = DeliveryFilter(recipient: recipient, sender: sender, messageID: messageID, host: host, limit: limit)
            filter.status = status
            filter.since = since?.date
            filter.until = until?.date
            let deliveries = try await DeliveriesCommand.open(data).deliveries(matching: filter)
            if json { return try DeliveriesCommand.printJSON(deliveries) }
            let rows = deliveries.map { [String($0.id), $0.time, $0.status.rawValue, "\($0.code) \($0.enhancedCode)",
                                         $0.recipient, $0.sender.isEmpty ? "<>" : $0.sender, $0.messageID ?? ""] }
            print(Table.render(header: ["ID", "TIME", "STATUS", "REPLY", "RECIPIENT", "SENDER", "MESSAGE-ID"], rows: rows))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one delivery.")

        @OptionGroup var data: DataDirectoryOptions
        @Argument(help: "The delivery's id.") var id: Int64
        @Flag(help: "Print a JSON object.") var json = false

        func run() async throws {
            guard let delivery = try await DeliveriesCommand.open(data).delivery(id: id) else {
                throw CommandFailure("no delivery \(id) in \(data.displayedDatabase)", status: CommandExit.notFound)
            }
            if json { return try DeliveriesCommand.printJSON(delivery) }
            let fields: [(String, String)] = [
                ("id", String(delivery.id)), ("time", delivery.time), ("status", delivery.status.rawValue),
                ("reply", "\(delivery.code) \(delivery.enhancedCode) \(delivery.text)"), ("recipient", delivery.recipient),
                ("original recipient", delivery.originalRecipient ?? ""), ("sender", delivery.sender.isEmpty ? "<>" : delivery.sender),
                ("mailbox", delivery.mailbox ?? ""), ("folder", delivery.folder ?? ""), ("file", delivery.file ?? ""),
                ("sieve", delivery.sieve ?? ""), ("size", String(delivery.size)), ("message id", delivery.messageID ?? ""), ("session", delivery.sessionID),
                ("client", delivery.clientAddress ?? ""), ("helo", delivery.helo ?? ""), ("host", delivery.host ?? ""),
                ("duration", String(format: "%.3f s", delivery.duration)),
            ]
            for (name, value) in fields { print(name.padding(toLength: 20, withPad: " ", startingAt: 0) + value) }
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Count deliveries by outcome.")

        @OptionGroup var data: DataDirectoryOptions
        @Option(help: "From this time: \(PointInTime.forms).") var since: PointInTime?
        @Flag(help: "Print a JSON object.") var json = false

        func run() async throws {
            let stats = try await DeliveriesCommand.open(data).stats(since: since?.date)
            if json { return try DeliveriesCommand.printJSON(stats) }
            let rows = [["transactions", String(stats.transactions)], ["deliveries", String(stats.deliveries)],
                        ["delivered", String(stats.delivered)], ["failed", String(stats.failed)],
                        ["deferred", String(stats.deferred)], ["duplicate", String(stats.duplicate)],
                        ["bytes delivered", String(stats.bytes)], ["first", stats.first ?? "-"], ["last", stats.last ?? "-"]]
            print(Table.render(header: ["", "COUNT"], rows: rows))
        }
    }
}

/// A plain text table with columns padded to their widest cell.
enum Table {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}
