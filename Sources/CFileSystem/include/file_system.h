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

#endif
