#ifndef LETTERBOX_FILE_SYSTEM_H
#define LETTERBOX_FILE_SYSTEM_H

#include <stdint.h>

/// Writes every dirty page of `fd` to its device and waits until the device has taken them
/// (Linux `sync_file_range` with WAIT_BEFORE | WRITE | WAIT_AFTER, over the whole file). It
/// makes nothing durable by itself: no metadata is written and the device's cache is not
/// flushed. Returns 0, or -1 with errno set (ENOSYS where the call does not exist).
int letterbox_write_back(int fd);

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
