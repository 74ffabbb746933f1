// sync_file_range is a GNU extension, and statfs is not in Swift's Glibc module.
#define _GNU_SOURCE
#include "file_system.h"

#include <errno.h>

#if defined(__linux__)
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <pthread.h>
#include <string.h>
#include <dirent.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

int letterbox_write_back(int fd) {
    return sync_file_range(fd, 0, 0,
                           SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
}

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif

int letterbox_device_of(int fd, uint64_t *device, uint64_t *mount) {
    struct statx info;
    // The unique id (Linux 6.8) where the kernel has it, which no later mount takes again; the
    // older id is given to the next mount once this one is gone.
    if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_MNT_ID_UNIQUE, &info) == 0) {
        *device = makedev(info.stx_dev_major, info.stx_dev_minor);
        *mount = (info.stx_mask & (STATX_MNT_ID_UNIQUE | STATX_MNT_ID)) ? info.stx_mnt_id : 0;
        return 0;
    }
    if (errno != ENOSYS) return -1;
    struct stat fallback;   // a kernel before 4.11 (or a filter refusing statx)
    if (fstat(fd, &fallback) != 0) return -1;
    *device = (uint64_t)fallback.st_dev;
    *mount = 0;
    return 0;
}

// Sets FS_NOATIME_FL through `fd`, which stays open.
static int setNoAccessTimes(int fd) {
    int flags = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) return -1;
    if (flags & FS_NOATIME_FL) return 0;
    flags |= FS_NOATIME_FL;
    return ioctl(fd, FS_IOC_SETFLAGS, &flags);
}

// The device and inode of a file, asked of statx for nothing else: its times are not read, so
// they are not marked as seen (see letterbox_device_of).
static int identity(int dirfd, const char *path, int flags, uint64_t *device, uint64_t *inode) {
    struct statx info;
    if (statx(dirfd, path, flags, STATX_INO, &info) != 0) return -1;
    *device = makedev(info.stx_dev_major, info.stx_dev_minor);
    *inode = info.stx_ino;
    return 0;
}

int letterbox_skip_access_times_of_open_file(const char *path) {
    uint64_t device, inode;
    if (identity(AT_FDCWD, path, 0, &device, &inode) != 0) return -1;
    // Listing /proc/self/fd opens that directory, never the file: no lock of the file's is
    // touched. Each entry is checked by its own descriptor (fstatx), not by the link's text.
    DIR *descriptors = opendir("/proc/self/fd");
    if (descriptors == NULL) return -1;
    int listing = dirfd(descriptors);
    int found = 0, failure = 0;
    struct dirent *entry;
    while ((entry = readdir(descriptors)) != NULL) {
        char *end;
        long number = strtol(entry->d_name, &end, 10);
        if (entry->d_name[0] == '.' || *end != '\0' || number == listing) continue;
        uint64_t entryDevice, entryInode;
        if (identity((int)number, "", AT_EMPTY_PATH, &entryDevice, &entryInode) != 0) continue;
        if (entryDevice != device || entryInode != inode) continue;
        found = 1;
        if (setNoAccessTimes((int)number) == 0) { failure = 0; break; }
        failure = errno;
    }
    closedir(descriptors);
    if (found && failure == 0) return 0;
    errno = found ? failure : ENOENT;
    return -1;
}

int letterbox_file_system_id(int fd, uint64_t *id) {
    struct statfs info;
    if (fstatfs(fd, &info) != 0) return -1;
    *id = ((uint64_t)(uint32_t)info.f_fsid.__val[0] << 32) | (uint32_t)info.f_fsid.__val[1];
    return 0;
}

// One AIO context per thread, made on the thread's first use and destroyed when it exits: the
// threads that sync are a pool's, long-lived, and a context per call would cost two more
// system calls per delivery.
enum { contextSlots = 32 };
static pthread_key_t contextKey;
static pthread_once_t contextKeyOnce = PTHREAD_ONCE_INIT;
static int aioMissing;   // set once io_setup said ENOSYS; read and written with relaxed atomics

static void destroyContext(void *value) {
    syscall(SYS_io_destroy, (aio_context_t)(uintptr_t)value);
}

static void makeContextKey(void) {
    pthread_key_create(&contextKey, destroyContext);
}

static aio_context_t threadContext(void) {
    pthread_once(&contextKeyOnce, makeContextKey);
    aio_context_t context = (aio_context_t)(uintptr_t)pthread_getspecific(contextKey);
    if (context != 0 || __atomic_load_n(&aioMissing, __ATOMIC_RELAXED)) return context;
    if (syscall(SYS_io_setup, contextSlots, &context) != 0) {
        if (errno == ENOSYS) __atomic_store_n(&aioMissing, 1, __ATOMIC_RELAXED);
        return 0;
    }
    if (pthread_setspecific(contextKey, (void *)(uintptr_t)context) != 0) {
        syscall(SYS_io_destroy, context);
        return 0;
    }
    return context;
}

static int syncNow(int fd) {
    return fsync(fd) == 0 ? 0 : errno;
}

void letterbox_fsync_together(const int *fds, int count, int *errors) {
    if (count <= 0) return;
    aio_context_t context = count > 1 ? threadContext() : 0;
    struct iocb blocks[contextSlots];
    struct iocb *pointers[contextSlots];
    int asynchronous = context != 0 ? count : 0;
    if (asynchronous > contextSlots) asynchronous = contextSlots;
    for (int index = 0; index < asynchronous; index++) {
        memset(&blocks[index], 0, sizeof blocks[index]);
        blocks[index].aio_fildes = (uint32_t)fds[index];
        blocks[index].aio_lio_opcode = IOCB_CMD_FSYNC;
        blocks[index].aio_data = (uint64_t)index;
        pointers[index] = &blocks[index];
    }
    long submitted = 0;
    while (submitted < asynchronous) {
        long result = syscall(SYS_io_submit, context, asynchronous - submitted, pointers + submitted);
        if (result < 0 && errno == EINTR) continue;
        if (result <= 0) break;   // refused (an old kernel without AIO fsync: EINVAL): synced below
        submitted += result;
    }
    for (long index = 0; index < submitted; index++) errors[index] = -1;   // until reaped
    for (int index = (int)submitted; index < count; index++) errors[index] = syncNow(fds[index]);
    long reaped = 0;
    struct io_event events[contextSlots];
    while (reaped < submitted) {
        long result = syscall(SYS_io_getevents, context, submitted - reaped, submitted - reaped, events, NULL);
        if (result < 0) {
            if (errno == EINTR) continue;
            // Cannot happen with a valid context. If it did, the results are unknown: each
            // still outstanding one is reported as failed rather than synced, and the context
            // is destroyed (which waits for what is in flight), so that no late completion is
            // ever taken for one of a later call; the thread makes a new one when next needed.
            for (long index = 0; index < submitted; index++) {
                if (errors[index] == -1) errors[index] = EIO;
            }
            syscall(SYS_io_destroy, context);
            pthread_setspecific(contextKey, NULL);
            return;
        }
        for (long index = 0; index < result; index++) {
            long long res = events[index].res;
            errors[events[index].data] = res == 0 ? 0 : (int)-res;
        }
        reaped += result;
    }
}
#else
#include <sys/stat.h>
#include <unistd.h>

int letterbox_skip_access_times_of_open_file(const char *path) {
    (void)path;
    errno = ENOTSUP;
    return -1;
}

int letterbox_device_of(int fd, uint64_t *device, uint64_t *mount) {
    struct stat info;
    if (fstat(fd, &info) != 0) return -1;
    *device = (uint64_t)info.st_dev;
    *mount = 0;
    return 0;
}

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

void letterbox_fsync_together(const int *fds, int count, int *errors) {
    for (int index = 0; index < count; index++) errors[index] = fsync(fds[index]) == 0 ? 0 : errno;
}
#endif
