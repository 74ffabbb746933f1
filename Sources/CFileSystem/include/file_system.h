#ifndef LETTERBOX_FILE_SYSTEM_H
#define LETTERBOX_FILE_SYSTEM_H

#include <stdint.h>

/// Writes every dirty page of `fd` to its device and waits until the device has taken them
/// (Linux `sync_file_range` with WAIT_BEFORE | WRITE | WAIT_AFTER, over the whole file). It
/// makes nothing durable by itself: no metadata is written and the device's cache is not
/// flushed. Returns 0, or -1 with errno set (ENOSYS where the call does not exist).
int letterbox_write_back(int fd);

/// The device (`st_dev`) of the open file `fd` in `*device`, and the id of the mount it was
/// reached through in `*mount` (`stx_mnt_id`: the unique id that no later mount reuses, since
/// Linux 6.8; before it the id of mountinfo's first field, which a later mount may take again
/// once this one is gone; 0 before Linux 5.8), asked of Linux `statx` for the file's type and
/// mount only. Not `fstat`: on a file system with multigrain timestamps (ext4 since Linux
/// 6.13) reading a file's times marks them as seen, which gives later changes on the machine
/// fine-grained times: the delivery log's WAL then took a new mtime at every commit, a
/// journaled inode update waiting for the journal commit before it. Returns 0, or -1 with
/// errno set.
int letterbox_device_of(int fd, uint64_t *device, uint64_t *mount);

/// Sets the no-atime attribute (Linux `FS_NOATIME_FL`, `chattr +A`; the owner may set it) of
/// the file at `path` through a descriptor this process already holds open for it, found in
/// `/proc/self/fd` by device and inode: reading the file no longer writes its access time. For
/// the delivery log's database and WAL, through SQLite's own descriptors: under the default
/// `relatime` the duplicate check's first read of the WAL after a commit wrote its atime, a
/// journaled inode update that waited for the journal commit then writing the inode's block.
///
/// It never opens the file itself. POSIX `close()` of any descriptor of a file drops every
/// fcntl lock the process holds on it, and SQLite's locks are fcntl locks: an open and close
/// here would drop the SHARED lock that tells other processes the log is in use, and the next
/// one to close its connection would take itself for the last, checkpoint, and delete the WAL
/// this process still commits into. Returns 0, or -1 with errno set (ENOENT when no descriptor
/// of the file is open; ENOTTY or EOPNOTSUPP on a file system without the attribute).
int letterbox_skip_access_times_of_open_file(const char *path);

/// The id of the file system holding the open file `fd` (`statfs`'s `f_fsid`, which ext4
/// derives from its UUID) in `*id`. Returns 0, or -1 with errno set.
int letterbox_file_system_id(int fd, uint64_t *id);

/// fsyncs every descriptor in `fds` at the same time and stores each one's result in
/// `errors` (0, or the errno of its failure): all are submitted at once through Linux native
/// AIO (IOCB_CMD_FSYNC, run by kernel workers) and all are waited for. On a journaled file
/// system an fsync that starts while the journal commit it needs is still being written waits
/// for that commit, where one that starts after the commit record went out finds nothing to
/// commit and still sends the device a cache flush of its own. Submitted together, the syncs
/// of a file and of the directories it was just linked into all reach the commit in time;
/// made one after another (or the first on the calling thread, which can be preempted before
/// it checks), each after the first costs one more flush. Where AIO is missing (or refuses),
/// they are synced one after another. Each descriptor's fsync has returned when this does.
void letterbox_fsync_together(const int *fds, int count, int *errors);

#endif
