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

int letterbox_device_of(int fd, uint64_t *device) {
    struct statx info;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE, &info) == 0) {
        *device = makedev(info.stx_dev_major, info.stx_dev_minor);
        return 0;
    }
    if (errno != ENOSYS) return -1;
    struct stat fallback;   // a kernel before 4.11 (or a filter refusing statx)
    if (fstat(fd, &fallback) != 0) return -1;
    *device = (uint64_t)fallback.st_dev;
    return 0;
}

int letterbox_skip_access_times(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return -1;
    int flags = 0;
    int result = ioctl(fd, FS_IOC_GETFLAGS, &flags);
    if (result == 0 && !(flags & FS_NOATIME_FL)) {
        flags |= FS_NOATIME_FL;
        result = ioctl(fd, FS_IOC_SETFLAGS, &flags);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return result == 0 ? 0 : -1;
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

int letterbox_skip_access_times(const char *path) {
    (void)path;
    errno = ENOTSUP;
    return -1;
}

int letterbox_device_of(int fd, uint64_t *device) {
    struct stat info;
    if (fstat(fd, &info) != 0) return -1;
    *device = (uint64_t)info.st_dev;
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
