// sync_file_range is a GNU extension, and statfs is not in Swift's Glibc module.
#define _GNU_SOURCE
#include "file_system.h"

#include <errno.h>

#if defined(__linux__)
#include <fcntl.h>
#include <sys/vfs.h>

int letterbox_write_back(int fd) {
    return sync_file_range(fd, 0, 0,
                           SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
}

int letterbox_file_system_id(int fd, uint64_t *id) {
    struct statfs info;
    if (fstatfs(fd, &info) != 0) return -1;
    *id = ((uint64_t)(uint32_t)info.f_fsid.__val[0] << 32) | (uint32_t)info.f_fsid.__val[1];
    return 0;
}
#else
int letterbox_write_back(int fd) {
    (void)fd;
    errno = ENOSYS;
    return -1;
}

int letterbox_file_system_id(int fd, uint64_t *id) {
    (void)fd;
    *id = 0;
    return 0;
}
#endif
