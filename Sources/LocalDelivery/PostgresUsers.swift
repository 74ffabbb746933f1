import Logging
import PostgresAccess
import PostgresNIO

/// The local users in a PostgreSQL table, found by the site's own query (`users-query`), as
/// Postfix's `pgsql:` maps and Dovecot's SQL userdb find them.
///
/// The query gets the address (lower-cased, without its `+detail`) as `$1`, its local part as
/// `$2` and its domain as `$3`; any row it returns means the user exists. Its columns named
/// `quota` (octets as an integer, or a size such as `2G` as text; NULL for none) and `mailbox`
/// (the Maildir's path under the mail root; NULL for the mailbox template's) are read when
/// present. For example:
///
///     SELECT quota_bytes AS quota FROM mailbox WHERE address = $1 AND active
///
/// Answers are kept for a short time (``UserCache``). A lookup that fails or times out
/// (`statement_timeout`, 5 s unless the URL's `options` say) throws, and its recipient is
/// deferred with 451 4.3.0.
public final class PostgresUsers: UserLookup {
    private let slot: PostgresConnectionSlot
    private let query: String
    /// How many of the three parameters the query uses (the highest `$n` in it): PostgreSQL
    /// wants exactly as many values as the statement has parameters.
    private let parameterCount: Int
    private let cache: UserCache
    private let logger: Logger

    /// Why a users query was refused.
    public struct InvalidQuery: Error, CustomStringConvertible {
        public let description: String
    }

    /// Looks users up on the server at `url` (a `postgres://` or `postgresql://` URL) with
    /// `query`; answers are kept for `cacheLifetime` (zero: not kept). Nothing is connected
    /// yet. Throws ``PostgresLocation/InvalidURL`` or ``InvalidQuery`` (a parameter other than
    /// `$1`, `$2`, `$3`).
    public init(url: String, query: String, cacheLifetime: Duration = .seconds(30),
                logger: Logger = Logger(label: "letterbox.users")) throws {
        let location = try PostgresLocation(url: url)
        let used = Self.parameters(in: query)
        if let unknown = used.first(where: { !(1...3).contains($0) }) {
            throw InvalidQuery(description: "the users query uses $\(unknown); it has $1 (address), $2 (local part) and $3 (domain)")
        }
        slot = PostgresConnectionSlot(location: location, logger: logger, statementTimeout: "5s")
        self.query = query
        parameterCount = used.max() ?? 0
        cache = UserCache(lifetime: cacheLifetime)
        self.logger = logger
    }

    /// The server, without its password.
    public var server: String { slot.location.description }

    public func user(address: String, localPart: String, domain: String) async throws -> LocalUser? {
        if let remembered = cache.answer(for: address) { return remembered }
        let rows: [PostgresRow]
        do {
            rows = try await slot.rows(statement(address: address, localPart: localPart, domain: domain))
        } catch {
            logger.error("users lookup failed for \(address): \(error)")
            throw error
        }
        let user = try rows.first.map { try Self.user(address: address, from: $0.makeRandomAccess()) }
        cache.remember(user, for: address)
        return user
    }

    public func forget() {
        cache.clear()
    }

    /// Runs the query once for an address no site has (`letterbox-check@invalid`), to find at
    /// start what would defer every recipient later: a query PostgreSQL cannot run (a syntax
    /// error, a table or column that does not exist: SQLSTATE class 42) or a quota column of
    /// another type. Returns that error, or nil when the query ran or the server could not be
    /// reached (which is not the query's fault, and is said when lookups fail).
    public func check() async -> (any Error)? {
        do {
            let rows = try await slot.rows(statement(address: "letterbox-check@invalid", localPart: "letterbox-check",
                                                     domain: "invalid"))
            if let row = rows.first { _ = try Self.user(address: "letterbox-check@invalid", from: row.makeRandomAccess()) }
            return nil
        } catch let failure as PostgresFailure where failure.sqlState?.hasPrefix("42") == true {
            return failure
        } catch let error as InvalidQuery {
            return error
        } catch {
            return nil
        }
    }

    /// Closes the connection.
    public func close() {
        slot.close()
    }

    private func statement(address: String, localPart: String, domain: String) -> PostgresQuery {
        var binds = PostgresBindings(capacity: parameterCount)
        for value in [address, localPart, domain].prefix(parameterCount) { binds.append(value) }
        return PostgresQuery(unsafeSQL: query, binds: binds)
    }

    /// The user a row describes: its `quota` and `mailbox` columns, when it has them.
    private static func user(address: String, from row: PostgresRandomAccessRow) throws -> LocalUser {
        var user = LocalUser(address: address)
        if row.contains("quota") {
            let cell = row["quota"]
            switch cell.dataType {
            case .int2, .int4, .int8:
                user.quota = try cell.decode(Int64?.self).map(Int.init)
            case .text, .varchar, .bpchar, .name:
                if let text = try cell.decode(String?.self) {
                    guard let quota = UserDirectory.size(text.trimmingCharacters(in: .whitespaces)) else {
                        throw InvalidQuery(description: "the users query gave quota \(text) for \(address): not a size")
                    }
                    user.quota = quota
                }
            default:
                throw InvalidQuery(description: "the users query's quota column is \(cell.dataType); it must be an integer or text")
            }
        }
        if row.contains("mailbox") {
            user.mailbox = try row["mailbox"].decode(String?.self)
        }
        return user
    }

    /// The parameter numbers (`$n`) in `query`, outside quoted text.
    static func parameters(in query: String) -> Set<Int> {
        var found: Set<Int> = []
        var characters = Array(query.unicodeScalars)[...]
        var quote: Unicode.Scalar?
        while let character = characters.popFirst() {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
            } else if character == "$" {
                let digits = characters.prefix { ("0"..."9").contains($0) }
                if let number = Int(String(String.UnicodeScalarView(digits))) { found.insert(number) }
                characters = characters.dropFirst(digits.count)
            }
        }
        return found
    }
}
