import ArgumentParser
import DeliveryLog
import Foundation

/// `letterbox deliveries prune`: removes old rows from the delivery log.
struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove transactions older than a given age, with their deliveries.",
        discussion: """
        Deletes the oldest transactions and their deliveries in batches, each its own short \
        transaction, so that a running agent's commits never wait long; safe beside the agent. \
        The newest transaction is always kept. On a terminal, the running count is shown. \
        serve does the same once a day with its retention setting.
        """
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(name: .long, help: "Remove what is older than this: a duration such as 90d, 12w or 36h.")
    var olderThan: String

    @Option(name: .long, help: "Transactions per batch.")
    var batch: Int = 500

    func run() async throws {
        guard let age = parseDuration(olderThan), age > 0 else {
            throw ValidationError("--older-than must be a duration such as 90d, 12w or 36h")
        }
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
        let cutoff = Date(timeIntervalSinceNow: -age)
        try data.becomeOwner()
        let pruner: DeliveryLogPruner
        do {
            pruner = try DeliveryLogPruner(location: data.resolvedDatabase)
        } catch let error as DeliveryLogError {
            throw CommandFailure(error.description, status: CommandExit.temporaryFailure)
        } catch {
            throw CommandFailure("cannot open the delivery log: \(data.displayedDatabase): \(describe(error))",
                                 status: CommandExit.temporaryFailure)
        }
        defer { pruner.close() }
        let progress = Progress()
        let total: Int
        do {
            total = try await pruner.prune(before: cutoff, batch: batch) { count in
                progress.show(count, every: 1) { "transactions pruned: \($0)" }
            }
        } catch {
            progress.end()
            throw CommandFailure("pruning the delivery log: \(data.displayedDatabase): \(describe(error))",
                                 status: CommandExit.temporaryFailure)
        }
        progress.end()
        print("pruned \(total) transactions and their deliveries older than \(Timestamp.format(cutoff))")
    }
}
