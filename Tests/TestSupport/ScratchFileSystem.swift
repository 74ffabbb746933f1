import Foundation
import Testing

/// A small file system of the test's own (ext4, or XFS), made in an image file and loop-mounted,
/// so that behaviour that depends on the file system (its journal, its data mode) is tested on
/// one whatever the machine's temporary directory is on. It needs root, the type's mkfs and
/// `mount` with loop devices: without them the test is skipped (a failure when
/// `LETTERBOX_REQUIRE_EXTERNAL` is set, as in CI).
public enum ScratchFileSystem {
    /// Makes a file system of `type` (`ext4` or `xfs`) of `megabytes` MiB (64 by default, 320
    /// for XFS, which takes nothing under 300 MB; `mkfsOptions` passed to its mkfs, e.g.
    /// `["-O", "^has_journal"]`; then `tuneOptions`, when given, to `tune2fs`, e.g.
    /// `["-o", "nobarrier"]`), mounts it with `mountOptions` (e.g. `data=writeback`), runs `body`
    /// with the mount point and unmounts it. The test is skipped (a failure in CI) when the
    /// environment cannot mount one.
    @discardableResult
    public static func with<T>(type: String = "ext4", megabytes: Int? = nil, mkfsOptions: [String] = [], tuneOptions: [String] = [],
                               mountOptions: [String] = [], _ body: (String) async throws -> T) async throws -> T {
        try External.requireRoot("loop-mounting a scratch \(type)")
        let mkfs = try External.require("mkfs.\(type)"), mount = try External.require("mount")
        let megabytes = megabytes ?? (type == "xfs" ? 320 : 64)
        let force = type == "xfs" ? "-f" : "-F"
        let umount = try External.require("umount")
        return try await withTemporaryDirectory { directory in
            let image = directory + "/fs.img"
            let mountPoint = directory + "/fs"
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: image, contents: nil),
                  truncate(image, off_t(megabytes) * 1024 * 1024) == 0 else {
                throw SetupFailure("could not make the image \(image)")
            }
            let made = try await runProcess(mkfs, ["-q", force] + mkfsOptions + [image])
            guard made.status == 0 else { throw SetupFailure("mkfs.\(type) failed: \(made.output)") }
            if !tuneOptions.isEmpty {
                let tune2fs = try External.require("tune2fs")
                let tuned = try await runProcess(tune2fs, tuneOptions + [image])
                guard tuned.status == 0 else { throw SetupFailure("tune2fs failed: \(tuned.output)") }
            }
            let options = (["loop"] + mountOptions).joined(separator: ",")
            let mounted = try await runProcess(mount, ["-t", type, "-o", options, image, mountPoint])
            guard mounted.status == 0 else { try External.unavailable("could not loop-mount a scratch \(type): \(mounted.output)") }
            do {
                let result = try await body(mountPoint)
                _ = try await runProcess(umount, [mountPoint])
                return result
            } catch {
                _ = try? await runProcess(umount, [mountPoint])
                throw error
            }
        }
    }
}
