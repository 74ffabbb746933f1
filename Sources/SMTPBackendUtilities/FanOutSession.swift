import NIOCore
import SMTPCore
import SMTPServer
import Synchronization

/// Delivers one transaction to several sessions at once — a mailbox and an archive, or
/// recipients routed to different stores — reading the body once and feeding every session
/// at the pace of the slowest, and reporting a status per recipient (RFC 2033 §4.2).
///
/// Each recipient is offered to every branch whose `accepts` returns true. It is accepted if
/// at least one of them accepts it (only those branches deliver it); if none does, the first
/// temporary refusal is returned, else the first refusal. After the message, a recipient's
/// status is success when every branch that took it succeeded; otherwise the first temporary
/// failure (so the client retries), else the first permanent one. A branch that refuses MAIL
/// sits the transaction out.
public final class FanOutSession: LMTPSession {
    /// One destination of a fan-out.
    public struct Branch {
        /// The session that receives this branch's share of the transaction.
        public var session: any Session
        /// Which recipients this branch is offered.
        public var accepts: @Sendable (Address) -> Bool

        /// A branch offered the recipients `accepts` returns true for (all by default).
        public init(_ session: any Session, accepts: @escaping @Sendable (Address) -> Bool = { _ in true }) {
            self.session = session
            self.accepts = accepts
        }
    }

    /// The refusal for a recipient that no branch is offered: 550 5.1.1.
    public static let noBranch = SMTPError(code: 550, enhancedCode: EnhancedCode(5, 1, 1), message: "No destination for this recipient")

    private let branches: [Branch]
    /// Per branch: whether it is in the current transaction (MAIL accepted).
    private var inTransaction: [Bool]
    /// Per branch: the indexes (in accepted-RCPT order) of the recipients it took.
    private var taken: [[Int]]
    private var recipients: [Address] = []

    /// A fan-out to `branches`.
    public init(branches: [Branch]) {
        self.branches = branches
        self.inTransaction = Array(repeating: false, count: branches.count)
        self.taken = Array(repeating: [], count: branches.count)
    }

    /// Resets every branch.
    public func reset() async {
        for branch in branches { await branch.session.reset() }
        clear()
    }

    /// Logs every branch out.
    public func logout() async {
        for branch in branches { await branch.session.logout() }
    }

    /// MAIL to every branch; fails only if all refuse.
    public func mail(from: ReversePath, options: MailOptions) async throws {
        clear()
        var refusals: [any Error] = []
        for (index, branch) in branches.enumerated() {
            do {
                try await branch.session.mail(from: from, options: options)
                inTransaction[index] = true
            } catch {
                refusals.append(error)
            }
        }
        if !inTransaction.contains(true) { throw Self.preferred(refusals) ?? Self.noBranch }
    }

    /// RCPT to every branch that wants the recipient; accepted if one of them accepts.
    public func rcpt(to: Address, options: RcptOptions) async throws {
        var refusals: [any Error] = []
        var accepted: [Int] = []
        for (index, branch) in branches.enumerated() where inTransaction[index] && branch.accepts(to) {
            do {
                try await branch.session.rcpt(to: to, options: options)
                accepted.append(index)
            } catch {
                refusals.append(error)
            }
        }
        guard !accepted.isEmpty else { throw Self.preferred(refusals) ?? Self.noBranch }
        for index in accepted { taken[index].append(recipients.count) }
        recipients.append(to)
    }

    /// Tells every branch in the transaction that wants the recipient that the server refused it.
    public func recipientRefused(_ to: Address, options: RcptOptions, error: SMTPError) async {
        for (index, branch) in branches.enumerated() where inTransaction[index] && branch.accepts(to) {
            await branch.session.recipientRefused(to, options: options, error: error)
        }
    }

    /// The message to every branch with recipients; fails with the worst recipient's status.
    public func data(_ body: MessageBody) async throws {
        let outcome = await deliver(body, status: nil)
        if let failure = Self.preferred(outcome.compactMap { $0 }) { throw failure }
    }

    /// The message to every branch with recipients; each recipient's status as it is known.
    public func lmtpData(_ body: MessageBody, status: StatusCollector) async throws {
        _ = await deliver(body, status: status)
    }

    private func clear() {
        inTransaction = Array(repeating: false, count: branches.count)
        taken = Array(repeating: [], count: branches.count)
        recipients = []
    }

    /// The error to report among several: the first temporary one, else the first.
    static func preferred(_ errors: [any Error]) -> (any Error)? {
        errors.first { ($0 as? SMTPError)?.isTemporary ?? true } ?? errors.first
    }

    /// Feeds `body` to every branch with recipients concurrently and returns each recipient's
    /// outcome (`nil` for success), setting it on `status` as soon as all its branches answered.
    private func deliver(_ body: MessageBody, status: StatusCollector?) async -> [(any Error)?] {
        let tally = Tally(branchesPerRecipient: recipients.indices.map { recipient in taken.filter { $0.contains(recipient) }.count },
                          status: status)
        let active = branches.indices.filter { !taken[$0].isEmpty }
        let pipes = active.map { _ in ChunkPipe() }
        await withTaskGroup(of: Void.self) { group in
            for (position, index) in active.enumerated() {
                let pipe = pipes[position]
                let branch = BranchHandle(session: branches[index].session)
                let own = taken[index]
                let addresses = own.map { recipients[$0] }
                group.addTask {
                    await branch.deliver(MessageBody(ChunkPipe.Chunks(pipe: pipe)), recipients: addresses) { local, outcome in
                        tally.report(recipient: own[local], outcome)
                    }
                    pipe.close()
                }
            }
            do {
                for try await chunk in body {
                    for pipe in pipes { await pipe.send(chunk) }
                }
                for pipe in pipes { pipe.finish(nil) }
            } catch {
                for pipe in pipes { pipe.finish(error) }
            }
            await group.waitForAll()
        }
        return tally.outcomes
    }
}

/// A branch's session handed to the child task that feeds it.
///
/// `@unchecked Sendable` is safe here: each handle is made for exactly one child task of
/// `FanOutSession.deliver`, which is the only code touching the session until the task group
/// has finished (the parent task only reads the body and feeds the pipes meanwhile); sessions
/// are therefore never used from two tasks at once, which is all `Session` requires.
private struct BranchHandle: @unchecked Sendable {
    let session: any Session

    /// Runs the branch's data (per recipient when it is an LMTP session) and reports each of
    /// its recipients' outcomes by local index.
    func deliver(_ body: MessageBody, recipients: [Address], report: @escaping @Sendable (Int, (any Error)?) -> Void) async {
        if let lmtp = session as? any LMTPSession {
            let collector = StatusCollector(recipients: recipients) { index, outcome in report(index, outcome) }
            var failure: (any Error)?
            do { try await lmtp.lmtpData(body, status: collector) } catch { failure = error }
            // Recipients the session left unset get the outcome of the call (RFC 2033 as the
            // server applies it); setStatus ignores those already set.
            for index in recipients.indices {
                collector.setStatus(at: index, failure.map(FanOutError.reply) ?? nil)
            }
        } else {
            var failure: (any Error)?
            do { try await session.data(body) } catch { failure = error }
            for index in recipients.indices { report(index, failure) }
        }
    }
}

/// The reply for an error a branch threw: its own if it is an `SMTPError`, else 451 4.3.0.
enum FanOutError {
    static func reply(_ error: any Error) -> SMTPError {
        error as? SMTPError ?? .localError
    }
}

/// Collects each recipient's outcomes from its branches.
private final class Tally: Sendable {
    private struct State {
        var pending: [Int]
        var outcomes: [[any Error]]
    }

    private let state: Mutex<State>
    private let status: StatusCollector?

    init(branchesPerRecipient: [Int], status: StatusCollector?) {
        self.state = Mutex(State(pending: branchesPerRecipient, outcomes: Array(repeating: [], count: branchesPerRecipient.count)))
        self.status = status
    }

    func report(recipient: Int, _ outcome: (any Error)?) {
        let final: SMTPError?? = state.withLock { state in
            guard state.pending[recipient] > 0 else { return nil }
            state.pending[recipient] -= 1
            if let outcome { state.outcomes[recipient].append(outcome) }
            guard state.pending[recipient] == 0 else { return nil }
            return .some(FanOutSession.preferred(state.outcomes[recipient]).map(FanOutError.reply))
        }
        if let final { status?.setStatus(at: recipient, final) }
    }

    var outcomes: [(any Error)?] {
        state.withLock { state in state.outcomes.map { FanOutSession.preferred($0) } }
    }
}

/// A backend whose sessions are ``FanOutSession``s over the sessions of several backends: each
/// connection logs into every backend, and each transaction goes to those whose `accepts`
/// wants its recipients.
public struct FanOutBackend: Backend {
    /// One destination: a backend and the recipients it is offered.
    public struct Route: Sendable {
        /// The backend.
        public var backend: any Backend
        /// Which recipients its sessions are offered.
        public var accepts: @Sendable (Address) -> Bool

        /// A route offering `backend` the recipients `accepts` returns true for (all by default).
        public init(_ backend: any Backend, accepts: @escaping @Sendable (Address) -> Bool = { _ in true }) {
            self.backend = backend
            self.accepts = accepts
        }
    }

    /// The destinations, in the order their sessions are called.
    public let routes: [Route]

    /// A backend fanning out to `routes`.
    public init(routes: [Route]) {
        self.routes = routes
    }

    /// Logs into every backend (all must accept the credentials).
    public func login(state: ConnectionState, username: String, password: String, sessionID: String) async throws -> any Session {
        var branches: [FanOutSession.Branch] = []
        for route in routes {
            let session = try await route.backend.login(state: state, username: username, password: password, sessionID: sessionID)
            branches.append(FanOutSession.Branch(session, accepts: route.accepts))
        }
        return FanOutSession(branches: branches)
    }

    /// Opens a session with every backend (all must allow it).
    public func anonymousLogin(state: ConnectionState, sessionID: String) async throws -> any Session {
        var branches: [FanOutSession.Branch] = []
        for route in routes {
            branches.append(FanOutSession.Branch(try await route.backend.anonymousLogin(state: state, sessionID: sessionID),
                                                 accepts: route.accepts))
        }
        return FanOutSession(branches: branches)
    }
}
