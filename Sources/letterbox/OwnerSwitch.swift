import Foundation
import Maildir

/// Run as root, `serve`, `deliver` and the `deliveries` commands become the owner of the data
/// directory (or `--user`) before they open the log or touch a Maildir, as Dovecot's delivery
/// runs as `mail_uid`: a root-owned log, WAL or message file left in a tree the agent's user
/// owns would later be unwritable to it. Not run as root, nothing changes.
enum OwnerSwitch {
    /// Becomes `user`, or else the owner of `path` (of its nearest existing ancestor when it
    /// does not exist yet) when that owner is not root; returns the user's name, or nil when
    /// nothing changed. Supplementary groups are the user's (initgroups(3)), then the group and
    /// the user id are set, so that the process cannot regain root.
    static func becomeOwner(of path: String, user: String?) throws -> String? {
        guard geteuid() == 0 else {
            if let user, user != currentUserName() {
                throw CommandFailure("--user \(user): only root can switch users", status: CommandExit.permission)
            }
            return nil
        }
        let entry: passwd
        if let user {
            guard let found = getpwnam(user)?.pointee else {
                throw CommandFailure("--user \(user): no such user", status: CommandExit.noUser)
            }
            entry = found
        } else {
            guard case .success(let (existing, info)) = Preflight.nearestExisting(path), info.st_uid != 0 else { return nil }
            guard let owner = getpwuid(info.st_uid)?.pointee else {
                throw CommandFailure("the owner of \(existing) (uid \(info.st_uid)) has no passwd entry", status: CommandExit.noUser)
            }
            entry = owner
        }
        guard entry.pw_uid != 0 else { return nil }
        let name = String(cString: entry.pw_name)
        if user != nil, access(path, F_OK) != 0 {
            // A data directory that does not exist yet is made for the user, who may not be
            // allowed to create it in its parent.
            do {
                try Maildir.makeDirectories(path)
            } catch {
                throw CommandFailure("cannot create the data directory: \(path): \(describe(error))", status: CommandExit.cannotCreate)
            }
            guard chown(path, entry.pw_uid, entry.pw_gid) == 0 else {
                throw CommandFailure("cannot give \(path) to \(name): \(String(cString: strerror(errno)))", status: CommandExit.permission)
            }
        }
        guard initgroups(entry.pw_name, entry.pw_gid) == 0, setgid(entry.pw_gid) == 0, setuid(entry.pw_uid) == 0 else {
            throw CommandFailure("cannot become \(name): \(String(cString: strerror(errno)))", status: CommandExit.permission)
        }
        return name
    }

    private static func currentUserName() -> String? {
        getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) }
    }
}
