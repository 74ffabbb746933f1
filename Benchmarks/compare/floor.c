// The least a durable Maildir delivery can cost on this machine: the file system calls of one
// 4 KiB delivery in the agent's order (docs/reliability.md), with nothing around them — no
// protocol, no parsing, no threads handing work over. Run by floor.sh on the same kind of file
// system as the comparison (ext4 with its journal on a loop device), it tells how much of the
// agent's cost per message is the durable write itself, for the cases measured end to end.
//
//   floor DIRECTORY DELIVERIES LOG(0|1) PROCESSES
//
// Each of PROCESSES processes delivers DELIVERIES / PROCESSES messages into a Maildir of its
// own, one after the other: create in tmp/, write, write back (sync_file_range, as on ext4 with a
// journal), link into new/, fsync new/, and with LOG = 1 append a commit to a WAL-like file
// (six 4 KiB pages, each after a 24-octet frame header, as SQLite writes an insert of a
// transaction and its recipient with their indexes) and fdatasync it — one commit per delivery,
// none shared — then unlink the tmp/ name. Prints deliveries per second, the processes' CPU
// per delivery, and the whole machine's busy time per delivery from /proc/stat (idle, iowait
// and steal left out), which counts the kernel's own threads too: jbd2, the writeback and
// loop-device workers, the conversion of unwritten extents.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { bodySize = 4339, pageSize = 4096, frameHeaderSize = 24, pagesPerCommit = 6, walCycle = 4 << 20 };

static double seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec + now.tv_nsec / 1e9;
}

/// The machine's busy clock ticks so far: every state but idle, iowait and steal.
static long long busyTicks(void) {
    FILE *stat = fopen("/proc/stat", "r");
    long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    if (!stat || fscanf(stat, "cpu %lld %lld %lld %lld %lld %lld %lld %lld", &user, &nice, &system, &idle, &iowait,
                        &irq, &softirq, &steal) != 8) {
        perror("/proc/stat");
        exit(1);
    }
    fclose(stat);
    return user + nice + system + irq + softirq;
}

static void fail(const char *what, const char *path) {
    fprintf(stderr, "floor: %s %s: ", what, path);
    perror(NULL);
    exit(1);
}

/// `count` deliveries into the Maildir `root`, one after the other.
static void deliver(const char *root, int count, int withLog) {
    static char tmp[8192], new[8192], wal[8192], spool[16384], target[16384];
    snprintf(tmp, sizeof tmp, "%s/tmp", root);
    snprintf(new, sizeof new, "%s/new", root);
    snprintf(wal, sizeof wal, "%s/log-wal", root);
    if (mkdir(root, 0700) || mkdir(tmp, 0700) || mkdir(new, 0700)) fail("mkdir", root);
    static char body[bodySize], page[pageSize], frameHeader[frameHeaderSize];
    memset(body, 'x', sizeof body);
    memset(page, 'p', sizeof page);
    memset(frameHeader, 'h', sizeof frameHeader);
    int log = open(wal, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (log < 0) fail("open", wal);
    off_t logEnd = 0;
    for (int i = 0; i < count; i++) {
        snprintf(spool, sizeof spool, "%s/%d.floor", tmp, i);
        snprintf(target, sizeof target, "%s/%d.floor,S=%d", new, i, bodySize);
        int file = open(spool, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (file < 0 || write(file, body, sizeof body) != sizeof body) fail("write", spool);
        if (sync_file_range(file, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER))
            fail("sync_file_range", spool);
        if (link(spool, target)) fail("link", target);
        int directory = open(new, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (directory < 0 || fsync(directory)) fail("fsync", new);
        close(directory);
        if (withLog) {
            // Overwrites, as SQLite's WAL is rewritten from its start after each checkpoint.
            if (logEnd > walCycle) logEnd = 0;
            for (int p = 0; p < pagesPerCommit; p++) {
                if (pwrite(log, frameHeader, sizeof frameHeader, logEnd) != sizeof frameHeader) fail("pwrite", wal);
                logEnd += sizeof frameHeader;
                if (pwrite(log, page, sizeof page, logEnd) != sizeof page) fail("pwrite", wal);
                logEnd += sizeof page;
            }
            if (fdatasync(log)) fail("fdatasync", wal);
        }
        if (unlink(spool)) fail("unlink", spool);
        close(file);
    }
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: floor DIRECTORY DELIVERIES LOG(0|1) PROCESSES\n");
        return 64;
    }
    const char *root = argv[1];
    int deliveries = atoi(argv[2]), withLog = atoi(argv[3]), processes = atoi(argv[4]);
    if (deliveries <= 0 || processes <= 0 || mkdir(root, 0700)) {
        fprintf(stderr, "floor: DELIVERIES and PROCESSES must be positive, and DIRECTORY new\n");
        return 64;
    }
    int each = deliveries / processes;
    long long busyBefore = busyTicks();
    double start = seconds();
    for (int p = 0; p < processes; p++) {
        pid_t child = fork();
        if (child < 0) fail("fork", root);
        if (child == 0) {
            char maildir[4096];
            snprintf(maildir, sizeof maildir, "%s/%d", root, p);
            deliver(maildir, each, withLog);
            _exit(0);
        }
    }
    int status, failed = 0;
    while (wait(&status) > 0) failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    double elapsed = seconds() - start;
    long long busy = busyTicks() - busyBefore;
    struct rusage children;
    getrusage(RUSAGE_CHILDREN, &children);
    double cpu = children.ru_utime.tv_sec + children.ru_utime.tv_usec / 1e6 + children.ru_stime.tv_sec
        + children.ru_stime.tv_usec / 1e6;
    int done = each * processes;
    printf("%s, %d at a time: %.0f deliveries/s, the processes %.3f ms CPU each, the machine %.3f ms busy each\n",
           withLog ? "with a log" : "no log    ", processes, done / elapsed, cpu * 1e3 / done,
           (double)busy / sysconf(_SC_CLK_TCK) * 1e3 / done);
    return failed;
}
